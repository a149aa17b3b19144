import Foundation

/// HTML built by string concatenation where every piece of data goes through `escape`: pages interpolate values
/// only as `\(HTML.escape(x))` (or the `e(_:)` shorthand), never raw.
public enum HTML {
    /// Escapes `& < > " '` so that text is safe in element content and in quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Percent-encodes a query value.
    public static func query(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Shorthand for `HTML.escape`.
func e(_ text: String) -> String { HTML.escape(text) }
func e(_ value: some CustomStringConvertible) -> String { HTML.escape(value.description) }

/// A deliberately small Markdown renderer for model cards: escapes every character of the input first, then
/// recognises headings (`#`), paragraphs, bullet lists (`-`, `*`), fenced code blocks, `inline code`,
/// **bold**, *italic* and links `[text](https://...)` whose target is an http(s) URL. Raw HTML in the input is
/// shown as text, never interpreted.
public enum Markdown {
    public static func render(_ source: String) -> String {
        var html: [String] = []
        var paragraph: [String] = []
        var list: [String] = []
        var code: [String]?

        func flushParagraph() {
            if !paragraph.isEmpty { html.append("<p>" + paragraph.map(inline).joined(separator: " ") + "</p>") }
            paragraph = []
        }
        func flushList() {
            if !list.isEmpty { html.append("<ul>" + list.map { "<li>" + inline($0) + "</li>" }.joined() + "</ul>") }
            list = []
        }

        for rawLine in source.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var block = code {
                if trimmed.hasPrefix("```") {
                    html.append("<pre><code>" + block.map(HTML.escape).joined(separator: "\n") + "</code></pre>")
                    code = nil
                } else {
                    block.append(line)
                    code = block
                }
                continue
            }
            if trimmed.hasPrefix("```") {
                flushParagraph(); flushList()
                code = []
            } else if trimmed.isEmpty {
                flushParagraph(); flushList()
            } else if let level = headingLevel(trimmed) {
                flushParagraph(); flushList()
                let text = trimmed.dropFirst(level).trimmingCharacters(in: .whitespaces)
                let tag = "h\(min(level + 2, 6))"  // the page owns h1/h2
                html.append("<\(tag)>\(inline(text))</\(tag)>")
            } else if trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") {
                flushParagraph()
                list.append(String(trimmed.dropFirst(2)))
            } else {
                flushList()
                paragraph.append(trimmed)
            }
        }
        if let block = code { html.append("<pre><code>" + block.map(HTML.escape).joined(separator: "\n") + "</code></pre>") }
        flushParagraph(); flushList()
        return html.joined(separator: "\n")
    }

    private static func headingLevel(_ line: String) -> Int? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { return nil }
        return hashes
    }

    /// Inline markup over already-split text: code spans first (their content is literal), the rest escaped and then
    /// decorated.
    static func inline(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let tick = rest.firstIndex(of: "`") {
            out += decorate(HTML.escape(String(rest[..<tick])))
            let after = rest[rest.index(after: tick)...]
            guard let close = after.firstIndex(of: "`") else {
                out += decorate(HTML.escape(String(rest[tick...])))
                return out
            }
            out += "<code>" + HTML.escape(String(after[..<close])) + "</code>"
            rest = after[after.index(after: close)...]
        }
        return out + decorate(HTML.escape(String(rest)))
    }

    /// Links, bold and italic over escaped text (the delimiters `[ ] ( ) *` are not changed by escaping).
    private static func decorate(_ escaped: String) -> String {
        var s = escaped
        s = replace(s, pattern: #"\[([^\]]+)\]\((https?://[^\s()]+)\)"#) { groups in
            "<a href=\"\(groups[2])\" rel=\"nofollow noopener\">\(groups[1])</a>"
        }
        s = replace(s, pattern: #"\*\*([^*]+)\*\*"#) { "<strong>\($0[1])</strong>" }
        s = replace(s, pattern: #"\*([^*]+)\*"#) { "<em>\($0[1])</em>" }
        return s
    }

    private static func replace(_ s: String, pattern: String, _ make: ([String]) -> String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return s }
        let ns = s as NSString
        var out = ""
        var last = 0
        for match in regex.matches(in: s, range: NSRange(location: 0, length: ns.length)) {
            out += ns.substring(with: NSRange(location: last, length: match.range.location - last))
            let groups = (0..<match.numberOfRanges).map { ns.substring(with: match.range(at: $0)) }
            out += make(groups)
            last = match.range.location + match.range.length
        }
        return out + ns.substring(from: last)
    }
}

/// The Atom feed of a model's versions.
enum AtomFeed {
    static func render(model: ModelRecord, versions: [VersionRecord], baseURL: String) -> String {
        let iso = ISO8601DateFormatter()
        let page = "\(baseURL)/models/\(model.ownerName)/\(model.name)"
        let updated = iso.string(from: versions.first?.createdAt ?? model.updatedAt)
        var xml = """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom">
            <title>\(e(model.fullName)) versions</title>
            <id>\(e(page))</id>
            <link rel="alternate" href="\(e(page))"/>
            <link rel="self" href="\(e(baseURL))/api/models/\(e(model.ownerName))/\(e(model.name))/feed.atom"/>
            <updated>\(updated)</updated>
            <author><name>\(e(model.ownerName))</name></author>

            """
        for v in versions {
            let link = "\(baseURL)/api/models/\(model.ownerName)/\(model.name)/versions/\(v.number)/file"
            xml += """
                <entry>
                <title>\(e(model.fullName)) v\(v.number)</title>
                <id>urn:sha256:\(v.sha256)</id>
                <link rel="enclosure" type="application/octet-stream" length="\(v.size)" href="\(e(link))"/>
                <updated>\(iso.string(from: v.createdAt))</updated>
                <summary>\(e("\(v.facts.precision), \(v.size) bytes, \(v.facts.operators.values.reduce(0, +)) operators"))</summary>
                </entry>

                """
        }
        return xml + "</feed>\n"
    }
}
