import Foundation

/// Extracts the image from a predict request body: a raw image (any content type but multipart), or the part named
/// `image` (else the first part with a file name, else the first part) of a `multipart/form-data` body.
enum PreviewUpload {
    /// - Parameters:
    ///   - contentType: the request's Content-Type.
    ///   - body: the whole (size-bounded) body.
    /// - Throws: 400 problem for multipart without a boundary or without parts, or an empty image.
    static func imageBytes(contentType: String?, body: [UInt8]) throws -> [UInt8] {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else {
            guard !body.isEmpty else { throw Problem.badRequest("the body is empty: send an image (JPEG, PNG or BMP)") }
            return body
        }
        guard let boundary = parameter("boundary", in: contentType), !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw Problem.badRequest("multipart/form-data needs a boundary")
        }
        let parts = multipartParts(body, boundary: Array("--\(boundary)".utf8))
        let chosen = parts.first { $0.name == "image" } ?? parts.first { $0.filename != nil } ?? parts.first
        guard let chosen, !chosen.body.isEmpty else { throw Problem.badRequest("the form has no image part") }
        return chosen.body
    }

    /// A `key=value` parameter of a header value (quotes removed).
    static func parameter(_ key: String, in header: String) -> String? {
        for item in header.split(separator: ";").dropFirst() {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = kv[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    struct Part {
        var name: String?
        var filename: String?
        var body: [UInt8]
    }

    /// The parts between `--boundary` delimiters (RFC 7578): headers up to an empty line, then the content up to
    /// the CRLF before the next delimiter.
    static func multipartParts(_ body: [UInt8], boundary: [UInt8]) -> [Part] {
        var starts: [Int] = []
        var i = 0
        while let found = find(boundary, in: body, from: i) {
            starts.append(found)
            i = found + boundary.count
        }
        var parts: [Part] = []
        for (k, start) in starts.enumerated() where k + 1 < starts.count {
            var from = start + boundary.count
            // Skip to the end of the delimiter line.
            guard let lineEnd = find([13, 10], in: body, from: from), lineEnd < starts[k + 1] else { continue }
            from = lineEnd + 2
            guard let headerEnd = find([13, 10, 13, 10], in: body, from: from), headerEnd < starts[k + 1] else { continue }
            let headers = String(decoding: body[from..<headerEnd], as: UTF8.self)
            var end = starts[k + 1]
            if end >= 2, body[end - 2] == 13, body[end - 1] == 10 { end -= 2 }
            guard end >= headerEnd + 4 else { continue }
            var part = Part(body: Array(body[(headerEnd + 4)..<end]))
            for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                part.name = parameter("name", in: String(line))
                part.filename = parameter("filename", in: String(line))
            }
            parts.append(part)
        }
        return parts
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
