/// The addresses of an RFC 5322 address list (`To:`, `Cc:`, `Bcc:`, or a command-line argument). qmail: token822.
///
/// Handles `Name <addr>`, comma lists, quoted strings holding commas or `@`, comments in parentheses,
/// groups (`friends: a@b, c@d;` and `undisclosed-recipients:;`) and obsolete source routes
/// (`<@relay:user@host>`, of which only `user@host` is kept). Display names and comments are dropped.
public enum AddressList {
    /// The addr-specs in `text`, in order. A quoted local part keeps its quotes only when it needs them.
    public static func parse(_ text: String) -> [String] {
        var parser = Parser()
        for token in AddressToken.scan(text) { parser.consume(token) }
        parser.finishAddress()
        return parser.addresses
    }

    /// `address` with `@host` appended when it has no domain (an `@` outside its quoted local part).
    public static func qualified(_ address: String, host: String) -> String {
        if let at = address.lastIndex(of: "@"), !address[at...].contains("\"") { return address }
        return address + "@" + host
    }

    /// Groups tokens into addresses: outside angle brackets everything is kept until a comma; once an
    /// angle-addr is seen, only what is inside it counts.
    private struct Parser {
        var addresses: [String] = []
        var outside: [AddressToken] = []
        var angle: [AddressToken]?
        var isInAngle = false
        var isInGroup = false

        mutating func consume(_ token: AddressToken) {
            if isInAngle {
                if token == .special(">") { isInAngle = false } else { angle?.append(token) }
                return
            }
            switch token {
            case .special("<"):
                isInAngle = true
                angle = []
            case .special(","):
                finishAddress()
            case .special(":") where !isInGroup:
                // What came before is the group's display name, not an address.
                isInGroup = true
                outside = []
                angle = nil
            case .special(";") where isInGroup:
                finishAddress()
                isInGroup = false
            default:
                if angle == nil { outside.append(token) }
            }
        }

        mutating func finishAddress() {
            let tokens = angle.map(Parser.withoutRoute) ?? outside
            let address = tokens.map(\.addressText).joined()
            if !address.isEmpty { addresses.append(address) }
            outside = []
            angle = nil
            isInAngle = false
        }

        /// RFC 5322 §4.4 obs-route: `@a,@b:user@host` is `user@host`.
        static func withoutRoute(_ tokens: [AddressToken]) -> [AddressToken] {
            guard tokens.first == .special("@"), let colon = tokens.lastIndex(of: .special(":")) else { return tokens }
            return Array(tokens[(colon + 1)...])
        }
    }
}

/// One lexical token of an address list (RFC 5322 §3.2); white space and comments make none.
enum AddressToken: Equatable {
    case word(String)
    /// A quoted string's content, escapes removed.
    case quoted(String)
    /// A domain literal with its brackets: `[192.0.2.1]`.
    case literal(String)
    case special(Character)

    static let specials: Set<Character> = ["<", ">", ",", ":", ";", "@", "."]

    /// The token as it is written in an addr-spec.
    var addressText: String {
        switch self {
        case .word(let text), .literal(let text): text
        case .quoted(let text): AddressToken.isDotAtom(text) ? text : AddressToken.quote(text)
        case .special(let character): character == "." || character == "@" ? String(character) : ""
        }
    }

    /// The tokens of `text`.
    static func scan(_ text: String) -> [AddressToken] {
        let characters = Array(text)
        var tokens: [AddressToken] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
            } else if character == "(" {
                index = endOfComment(characters, from: index)
            } else if character == "\"" {
                let (content, next) = delimited(characters, from: index, closing: "\"")
                tokens.append(.quoted(content))
                index = next
            } else if character == "[" {
                let (content, next) = delimited(characters, from: index, closing: "]")
                tokens.append(.literal("[" + content + "]"))
                index = next
            } else if specials.contains(character) {
                tokens.append(.special(character))
                index += 1
            } else {
                let start = index
                while index < characters.count, !endsWord(characters[index]) { index += 1 }
                tokens.append(.word(String(characters[start..<index])))
            }
        }
        return tokens
    }

    private static func endsWord(_ character: Character) -> Bool {
        character.isWhitespace || specials.contains(character) || "()\"[".contains(character)
    }

    /// The index after the comment opening at `start`; comments nest and take backslash escapes.
    private static func endOfComment(_ characters: [Character], from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < characters.count {
            switch characters[index] {
            case "\\": index += 1
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth == 0 { return index + 1 }
            default: break
            }
            index += 1
        }
        return characters.count
    }

    /// The unescaped content after the opening character at `start` up to `closing`, and the index after it.
    private static func delimited(_ characters: [Character], from start: Int, closing: Character) -> (String, Int) {
        var content = ""
        var index = start + 1
        while index < characters.count, characters[index] != closing {
            if characters[index] == "\\", index + 1 < characters.count { index += 1 }
            content.append(characters[index])
            index += 1
        }
        return (content, min(index + 1, characters.count))
    }

    /// RFC 5322 §3.2.3 dot-atom (with RFC 6532's UTF-8): needs no quotes.
    static func isDotAtom(_ text: String) -> Bool {
        let atomCharacters = Set("!#$%&'*+-/=?^_`{|}~")
        let atoms = text.split(separator: ".", omittingEmptySubsequences: false)
        return atoms.allSatisfy { atom in
            !atom.isEmpty
                && atom.allSatisfy { $0.isLetter || $0.isNumber || atomCharacters.contains($0) || !$0.isASCII }
        }
    }

    /// `text` as a quoted string, with `"` and `\` escaped.
    static func quote(_ text: String) -> String {
        var result = "\""
        for character in text {
            if character == "\"" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        return result + "\""
    }
}
