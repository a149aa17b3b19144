import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Random secrets, their hashes and password hashing.
public enum Secrets {
    /// `count` random bytes from the system's CSPRNG as lowercase hex (2 × `count` characters).
    public static func randomHex(bytes count: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Lowercase hex SHA-256 of a string's UTF-8 bytes. Session cookies and API tokens are stored this way only.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Lowercase hex SHA-256 of bytes.
    public static func sha256Hex(bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// bcrypt password hashing, off the event loops (each hash takes tens of milliseconds by design).
public struct PasswordHasher: Sendable {
    /// bcrypt cost (log2 rounds): 12 in production; tests use 4.
    public var cost: UInt8

    public init(cost: UInt8 = 12) { self.cost = cost }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}

/// Token buckets keyed by string (e.g. `ip|user` for sign-in). Each key may spend `capacity` attempts at once and
/// regains one every `refillInterval` seconds.
public actor RateLimiter {
    public let capacity: Double
    public let refillInterval: TimeInterval
    private var buckets: [String: (tokens: Double, updated: TimeInterval)] = [:]
    private let maxKeys: Int

    public init(capacity: Int = 5, refillInterval: TimeInterval = 12, maxKeys: Int = 100_000) {
        self.capacity = Double(capacity)
        self.refillInterval = refillInterval
        self.maxKeys = maxKeys
    }

    /// Spends one token for `key`.
    /// - Returns: nil when allowed, otherwise the seconds until the next token.
    public func attempt(_ key: String, now: TimeInterval = Date().timeIntervalSince1970) -> TimeInterval? {
        var bucket = buckets[key] ?? (tokens: capacity, updated: now)
        bucket.tokens = min(capacity, bucket.tokens + max(0, now - bucket.updated) / refillInterval)
        bucket.updated = now
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            store(key, bucket, now: now)
            return nil
        }
        store(key, bucket, now: now)
        return (1 - bucket.tokens) * refillInterval
    }

    private func store(_ key: String, _ bucket: (tokens: Double, updated: TimeInterval), now: TimeInterval) {
        buckets[key] = bucket
        if buckets.count > maxKeys {
            // Forget buckets that have refilled completely: they behave like new ones.
            buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) / refillInterval < capacity }
        }
    }
}
