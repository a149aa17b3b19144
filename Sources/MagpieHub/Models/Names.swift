/// Validation of the names that appear in URLs and paths: user names, model names, tags, tasks.
///
/// A valid name is 1 to 64 characters of `a-z 0-9 - _ .`, starts with a letter or digit and contains no `..`, so a
/// name can never be a path component like `.`, `..` or `../x`, nor carry a slash.
public enum Names {
    /// Whether `name` is a valid name.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        for (i, b) in bytes.enumerated() {
            guard isAlphanumeric(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") else {
                return false
            }
            if b == UInt8(ascii: "."), i > 0, bytes[i - 1] == UInt8(ascii: ".") { return false }
        }
        return true
    }

    /// Throws a 400 problem naming `what` when `name` is not valid.
    public static func validate(_ name: String, as what: String) throws {
        guard isValid(name) else {
            throw Problem(.badRequest, title: "Invalid \(what)",
                          detail: "\(what) must be 1-64 characters of a-z, 0-9, '-', '_' or '.', start with a letter or digit and not contain '..'")
        }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }
}
