import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix

/// The hub's logic between the routes and storage: accounts, publishing versions, visibility rules.
///
/// Routes stay thin: they parse, call one method here and render the result.
public struct HubService: Sendable {
    public let store: any HubStore
    public let blobs: FileBlobStore
    public let configuration: HubConfiguration
    public let passwords: PasswordHasher
    /// Sign-in and token-creation throttle, keyed by client address and user name.
    public let signInLimiter: RateLimiter
    /// Sign-up throttle, keyed by client address.
    public let signUpLimiter: RateLimiter
    /// Runs "Try it" previews on a bounded set of worker threads.
    public let previews: PreviewPool
    /// Models read for previews, shared by the workers.
    public let previewModels: PreviewModels
    /// A hash of a random password, verified when a sign-in names no user so that timing does not tell.
    private let decoyHash: String

    public init(store: any HubStore, blobs: FileBlobStore, configuration: HubConfiguration) {
        self.store = store
        self.blobs = blobs
        self.configuration = configuration
        passwords = PasswordHasher(cost: configuration.bcryptCost)
        signInLimiter = RateLimiter(capacity: configuration.signInBurst, refillInterval: configuration.signInRefillSeconds)
        signUpLimiter = RateLimiter(capacity: configuration.signInBurst, refillInterval: configuration.signInRefillSeconds)
        previews = PreviewPool(workers: configuration.previewWorkers, queueBound: configuration.previewQueueBound)
        previewModels = PreviewModels()
        decoyHash = Bcrypt.hash(Secrets.randomHex(bytes: 16), cost: configuration.bcryptCost)
    }

    // MARK: - Startup

    /// What `recover()` found and did.
    public struct RecoveryReport: Sendable, Equatable {
        public var temporaryFilesRemoved: Int
        public var orphanBlobsRemoved: Int
    }

    /// Brings the blob store in line with the database after a crash: deletes unfinished uploads, and blobs that no
    /// committed version refers to (a crash between the blob's rename and the version's commit leaves one).
    /// Run before serving.
    @discardableResult
    public func recover() async throws -> RecoveryReport {
        let temporary = blobs.removeTemporaryFiles()
        let referenced = try await store.referencedBlobs()
        var orphans = 0
        for digest in try blobs.allDigests() where !referenced.contains(digest) {
            blobs.remove(digest)
            orphans += 1
        }
        return RecoveryReport(temporaryFilesRemoved: temporary, orphanBlobsRemoved: orphans)
    }

    // MARK: - Accounts

    /// Minimum password length.
    public static let minimumPasswordLength = 8

    /// Creates an account.
    /// - Throws: 400 for a bad name or short password, 409 when taken, 429 when this address signs up too often.
    public func signUp(name: String, password: String, clientAddress: String) async throws -> User {
        try Names.validate(name, as: "user name")
        guard password.count >= Self.minimumPasswordLength, password.utf8.count <= 72 else {
            throw Problem(.badRequest, title: "Invalid password",
                          detail: "passwords have \(Self.minimumPasswordLength) to 72 bytes")
        }
        if let wait = await signUpLimiter.attempt("signup|\(clientAddress)") { throw Self.tooManyRequests(wait) }
        let hash = try await passwords.hash(password)
        do {
            return try await store.createUser(name: name, passwordHash: hash)
        } catch StoreError.conflict {
            throw Problem(.conflict, detail: "the name '\(name)' is taken")
        }
    }

    /// Checks a password, throttled per client address and user name.
    /// - Throws: 429 with Retry-After when throttled, 401 for a wrong name or password (the same message for both).
    public func authenticate(name: String, password: String, clientAddress: String) async throws -> User {
        if let wait = await signInLimiter.attempt("\(clientAddress)|\(name)") { throw Self.tooManyRequests(wait) }
        // A missing user still costs one bcrypt verification, so timing does not reveal which names exist.
        let user = Names.isValid(name) ? try await store.user(named: name) : nil
        let hash = user?.passwordHash ?? decoyHash
        let ok = try await passwords.verify(password, hash: hash)
        guard let user, ok else { throw Problem(.unauthorized, detail: "wrong user name or password") }
        return user
    }

    static func tooManyRequests(_ wait: TimeInterval) -> Problem {
        let seconds = max(1, Int(wait.rounded(.up)))
        return Problem(.tooManyRequests, detail: "too many attempts; try again in \(seconds) s",
                       headers: [.retryAfter: "\(seconds)"])
    }

    /// Starts a browser session.
    /// - Returns: the cookie secret (only its hash is stored) and the session.
    public func startSession(for user: User) async throws -> (secret: String, session: Session) {
        let secret = Secrets.randomHex()
        let now = Date()
        let session = Session(tokenHash: Secrets.sha256Hex(secret), userID: user.id, csrfToken: Secrets.randomHex(),
                              createdAt: now, expiresAt: now.addingTimeInterval(configuration.sessionLifetime))
        try await store.createSession(session)
        return (secret, session)
    }

    /// Issues a personal API token.
    /// - Returns: the secret, shown once (`mgp_` + 64 hex digits), and the stored record.
    public func issueToken(for user: User, label: String) async throws -> (secret: String, token: APIToken) {
        let secret = "mgp_" + Secrets.randomHex()
        let label = String(label.prefix(64))
        let token = try await store.createToken(userID: user.id, label: label.isEmpty ? "token" : label,
                                                tokenHash: Secrets.sha256Hex(secret))
        return (secret, token)
    }

    // MARK: - Models

    /// A model the viewer may see.
    /// - Throws: 400 for invalid names, 404 when absent or private to someone else (the same answer, so private
    ///   names do not leak).
    public func visibleModel(owner: String, name: String, viewer: User?) async throws -> ModelRecord {
        try Names.validate(owner, as: "owner")
        try Names.validate(name, as: "model name")
        guard let model = try await store.model(owner: owner, name: name),
              model.card.visibility == .public || model.ownerID == viewer?.id
        else { throw Problem.notFound("no model \(owner)/\(name)") }
        return model
    }

    /// A model the user owns.
    /// - Throws: 404 as `visibleModel`, 403 when it is someone else's.
    public func ownedModel(owner: String, name: String, user: User) async throws -> ModelRecord {
        let model = try await visibleModel(owner: owner, name: name, viewer: user)
        guard model.ownerID == user.id else { throw Problem.forbidden("only \(owner) can change \(owner)/\(name)") }
        return model
    }

    /// Checks a card's fields.
    public static func validate(_ card: ModelCard) throws {
        guard card.description.utf8.count <= 64 << 10 else { throw Problem.badRequest("description is over 64 KiB") }
        if let task = card.task { try Names.validate(task, as: "task") }
        guard card.tags.count <= 32 else { throw Problem.badRequest("at most 32 tags") }
        for tag in card.tags { try Names.validate(tag, as: "tag") }
        if let license = card.license, license.count > 100 { throw Problem.badRequest("license is over 100 characters") }
    }

    /// Creates `owner/name` or replaces its card.
    /// - Returns: the model and whether it was created.
    /// - Throws: 403 when `owner` is not the user.
    public func putModel(owner: String, name: String, card: ModelCard, user: User) async throws -> (ModelRecord, Bool) {
        try Names.validate(owner, as: "owner")
        try Names.validate(name, as: "model name")
        try Self.validate(card)
        guard owner == user.name else { throw Problem.forbidden("you can only create models under \(user.name)/") }
        if let existing = try await store.model(owner: owner, name: name) {
            try await store.updateCard(modelID: existing.id, card: card)
            return (try await store.model(id: existing.id) ?? existing, false)
        }
        do {
            return (try await store.createModel(ownerID: user.id, name: name, card: card), true)
        } catch StoreError.conflict {
            // Created concurrently: update instead.
            guard let existing = try await store.model(owner: owner, name: name) else { throw Problem(.conflict) }
            try await store.updateCard(modelID: existing.id, card: card)
            return (existing, false)
        }
    }

    /// Publishes a new version from a streamed body.
    ///
    /// 1. the body streams into a temporary file in the store's file system, hashed on the way and cut off past
    ///    the size limit (413);
    /// 2. the file is fsynced and validated by the engine (`Model(contentsOfFile:)` + `Interpreter`); a bad file is
    ///    refused with the engine's message (422);
    /// 3. the file is renamed into the content-addressed store (the directory fsynced); identical bytes are stored
    ///    once;
    /// 4. only then is the version row committed, in one transaction.
    ///
    /// A crash before 4 leaves no version (and `recover()` removes the file); after 4 the version and its blob
    /// are both durable.
    /// - Parameters:
    ///   - declaredLength: the request's Content-Length, refused early when over the limit.
    public func publishVersion<Body: AsyncSequence>(owner: String, name: String, user: User, body: Body,
                                                    declaredLength: Int64?) async throws -> (ModelRecord, VersionRecord)
    where Body.Element == ByteBuffer {
        try Names.validate(owner, as: "owner")
        try Names.validate(name, as: "model name")
        guard owner == user.name else {
            if try await store.model(owner: owner, name: name) == nil {
                throw Problem.forbidden("you can only publish models under \(user.name)/")
            }
            _ = try await ownedModel(owner: owner, name: name, user: user)
            throw Problem.forbidden("only \(owner) can add versions")
        }
        let limit = blobs.maxUploadSize
        if let declaredLength, declaredLength > limit { throw Self.tooLarge(limit) }
        let upload = try blobs.beginUpload()
        do {
            for try await buffer in body {
                try buffer.withUnsafeReadableBytes { try upload.write($0) }
            }
            guard upload.size > 0 else { throw Problem(.unprocessableContent, title: "Not a valid model", detail: "the body is empty") }
            let facts = try await NIOThreadPool.singleton.runIfActive { () throws -> ModelFacts in
                try upload.finish()
                return try ModelInspection.inspect(path: upload.temporaryPath, size: upload.size)
            }
            let digest = try await NIOThreadPool.singleton.runIfActive { try self.blobs.commit(upload) }
            var model = try await store.model(owner: owner, name: name)
            if model == nil {
                model = try await putModel(owner: owner, name: name,
                                           card: ModelCard(description: facts.metadataDescription ?? ""), user: user).0
            }
            guard let model else { throw Problem.notFound("no model \(owner)/\(name)") }
            let version = try await store.addVersion(NewVersion(modelID: model.id, sha256: digest, size: upload.size,
                                                                facts: facts))
            return (try await store.model(id: model.id) ?? model, version)
        } catch let e as BlobError {
            upload.discard()
            if case .tooLarge = e { throw Self.tooLarge(limit) }
            throw e
        } catch let e as ModelRejection {
            upload.discard()
            throw Problem(.unprocessableContent, title: "Not a valid model", detail: e.description)
        } catch {
            upload.discard()
            throw error
        }
    }

    static func tooLarge(_ limit: Int64) -> Problem {
        Problem(.contentTooLarge, detail: "model files are limited to \(limit) bytes")
    }

    /// Resolves `latest` or a version number.
    /// - Throws: 404 when absent, 400 when `text` is neither.
    public func version(of model: ModelRecord, _ text: String) async throws -> VersionRecord {
        let number: Int
        if text == "latest" {
            guard let latest = model.latestVersion else { throw Problem.notFound("\(model.fullName) has no version yet") }
            number = latest
        } else if let n = Int(text), n > 0 {
            number = n
        } else {
            throw Problem.badRequest("a version is a number or 'latest'")
        }
        guard let version = try await store.version(modelID: model.id, number: number) else {
            throw Problem.notFound("\(model.fullName) has no version \(number)")
        }
        return version
    }

    // MARK: - Try it

    /// Runs `version` on an uploaded image in the preview pool (see `Preview`).
    /// - Throws: 503 with Retry-After when the workers are busy and the queue is full; 422 with the decoder's or
    ///   engine's message for an unreadable image or a model that is not an image classifier or segmenter.
    public func preview(_ version: VersionRecord, image: [UInt8]) async throws -> Preview.Output {
        let path = blobs.path(for: version.sha256)
        let sha256 = version.sha256, labels = version.facts.labels, models = previewModels
        let submitted = ContinuousClock.now
        do {
            return try await previews.run { worker in
                try Preview.run(image: image, sha256: sha256, path: path, fallbackLabels: labels, models: models,
                                worker: worker, queued: ContinuousClock.now - submitted)
            }
        } catch is PreviewPool.Busy {
            throw Problem(.serviceUnavailable, detail: "every preview worker is busy; try again in a moment",
                          headers: [.retryAfter: "\(Self.previewRetryAfterSeconds)"])
        } catch let failure as Preview.Failure {
            throw Problem(.unprocessableContent, title: failure.title, detail: failure.description)
        }
    }

    /// The Retry-After of a refused preview.
    public static let previewRetryAfterSeconds = 2
}
