import Testing

@testable import QuailCore

@Suite struct AddressListTests {
    @Test(arguments: [
        ("a@example.com", ["a@example.com"]),
        ("a@example.com, b@example.org", ["a@example.com", "b@example.org"]),
        ("Alice Example <alice@example.com>", ["alice@example.com"]),
        ("\"Doe, John\" <john@example.com>, jane@example.com", ["john@example.com", "jane@example.com"]),
        ("\"at@sign, comma\" <x@example.com>", ["x@example.com"]),
        ("bob@example.com (Bob, the builder)", ["bob@example.com"]),
        ("(leading, comment) carol@example.com", ["carol@example.com"]),
        ("Dan (nested (comment, here)) <dan@example.com>", ["dan@example.com"]),
        ("undisclosed-recipients:;", []),
        ("friends: a@example.com, B <b@example.com>;, c@example.com", ["a@example.com", "b@example.com", "c@example.com"]),
        ("<@relay.example:route@example.com>", ["route@example.com"]),
        ("\"john doe\"@example.com", ["\"john doe\"@example.com"]),
        ("\"plain\"@example.com", ["plain@example.com"]),
        ("\"a,b\"@example.com, c@example.com", ["\"a,b\"@example.com", "c@example.com"]),
        ("user@[192.0.2.1]", ["user@[192.0.2.1]"]),
        ("localuser", ["localuser"]),
        ("a@example.com,,  ,b@example.com", ["a@example.com", "b@example.com"]),
        ("Empty <>", []),
        ("", []),
        ("Zoë <zoe@example.com>", ["zoe@example.com"]),
    ])
    func parsesAddressLists(text: String, expected: [String]) {
        #expect(AddressList.parse(text) == expected)
    }

    @Test(arguments: [
        ("user", "user@host.test"),
        ("user@example.com", "user@example.com"),
        ("\"a@b\"", "\"a@b\"@host.test"),
        ("\"a@b\"@example.com", "\"a@b\"@example.com"),
    ])
    func qualifiesBareLocalParts(address: String, expected: String) {
        #expect(AddressList.qualified(address, host: "host.test") == expected)
    }
}
