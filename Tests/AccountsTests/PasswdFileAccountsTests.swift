import NIOConcurrencyHelpers
import SASL
import Testing

@testable import Accounts

@Suite("PasswdFileAccounts")
struct PasswdFileAccountsTests {
    private static let yescrypt = #"$y$j9T$sDYuVMuJ//k0bFs5ieJUe.$u3wAr/bWry5hI/Ev5crdO4cy85bJiqL8u6rV1SMNj1/"#
    private static let scram =
        #"{SCRAM-SHA-256}4096,20veCIM8BB/9q4zTyoSFCg==,TV+DC61wffoXeiiyGVc4ycsuJ8/LbjDKROj6fFckJns=,"#
        + #"mI5oN8XrUYfeWeo/CVhp19mMT0BrPWnDw9gRrJS9fL0="#

    private static let text = """
        # test accounts
        tim:{PLAIN}tanstaaf
        ann:{CRYPT}\(yescrypt):1000:1000::/home/ann
        sam:\(scram)
        odd:{WHIRLPOOL}topsecret
        """

    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test("password checks")
    func verify() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", Self.text)
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        #expect(await accounts.verifyPassword(user: "tim", password: bytes("tanstaaf")) == .success(user: "tim"))
        #expect(await accounts.verifyPassword(user: "tim", password: bytes("tanstaa")) == .invalidCredentials)
        #expect(await accounts.verifyPassword(user: "ann", password: bytes("correct horse")) == .success(user: "ann"))
        #expect(await accounts.verifyPassword(user: "sam", password: bytes("correct horse")) == .success(user: "sam"))
        #expect(await accounts.verifyPassword(user: "sam", password: bytes("wrong")) == .invalidCredentials)
        #expect(await accounts.verifyPassword(user: "nobody", password: bytes("x")) == .invalidCredentials)
        #expect(await accounts.verifyPassword(user: "../tim", password: bytes("tanstaaf")) == .invalidCredentials)
        // Names are exact, as in Dovecot's passwd-file.
        #expect(await accounts.verifyPassword(user: "TIM", password: bytes("tanstaaf")) == .invalidCredentials)
    }

    @Test("unknown scheme: the account cannot log in, and the reason is loggable without the hash")
    func unknownScheme() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", Self.text)
        let reported = NIOLockedValueBox<[String]>([])
        let accounts = PasswdFileAccounts(
            path: directory.file("passwd"),
            onProblem: { message in
                reported.withLockedValue { $0.append(message) }
            }
        )
        let result = await accounts.verifyPassword(user: "odd", password: bytes("topsecret"))
        guard case .temporaryFailure(let reason) = result else {
            Issue.record("expected temporaryFailure, got \(result)")
            return
        }
        #expect(reason.contains("WHIRLPOOL"))
        #expect(!reason.contains("topsecret"))
        let messages = reported.withLockedValue { $0 }
        #expect(messages.contains { $0.contains("line 5") && $0.contains("WHIRLPOOL") })
        #expect(!messages.contains { $0.contains("topsecret") })
        #expect(await accounts.problems().count == 1)
    }

    @Test("SCRAM credentials, APOP secret, existence")
    func lookups() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", Self.text)
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        let credentials = try #require(await accounts.scramCredentials(user: "sam"))
        #expect(
            credentials == SCRAM.deriveCredentials(password: "correct horse", salt: credentials.salt, iterations: 4096)
        )
        #expect(await accounts.scramCredentials(user: "tim") == nil)
        #expect(await accounts.apopSecret(user: "tim") == bytes("tanstaaf"))
        #expect(await accounts.apopSecret(user: "ann") == nil)
        #expect(await accounts.apopSecret(user: "nobody") == nil)
        #expect(await accounts.accountExists(user: "ann"))
        #expect(await accounts.accountExists(user: "odd"))
        #expect(!(await accounts.accountExists(user: "nobody")))
        #expect(!(await accounts.accountExists(user: "a/b")))
    }

    @Test("a SCRAM exchange against the file")
    func scramExchange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", Self.text)
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        var server = try #require(makeSASLServerMechanism(.scramSHA256))
        var client = try #require(makeSASLClientMechanism(.scramSHA256, user: "sam", secret: "correct horse"))
        var action = server.start(initialResponse: try client.initialResponse())
        for _ in 0..<8 {
            switch action {
            case .lookUpSCRAMCredentials(let user):
                action = server.credentialsLookedUp(await accounts.scramCredentials(user: user))
            case .challenge(let challenge): action = server.received(response: try client.respond(to: challenge))
            case .verifyPassword, .success, .failure: break
            }
            if case .success = action { break }
        }
        #expect(action == .success(user: "sam"))
        try client.verifyCompletion()
    }

    @Test("missing or unreadable file: temporary failure")
    func missingFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let accounts = PasswdFileAccounts(path: directory.file("absent"))
        let result = await accounts.verifyPassword(user: "tim", password: bytes("tanstaaf"))
        guard case .temporaryFailure(let reason) = result else {
            Issue.record("expected temporaryFailure, got \(result)")
            return
        }
        #expect(reason.contains("absent"))
        #expect(await accounts.scramCredentials(user: "tim") == nil)
        let unreadable = PasswdFileAccounts(path: directory.path)  // a directory cannot be read as a file
        guard case .temporaryFailure = await unreadable.verifyPassword(user: "tim", password: bytes("x")) else {
            Issue.record("expected temporaryFailure")
            return
        }
    }

    @Test("the file is re-read when it changes; a login looks at it even within the interval")
    func reload() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("passwd")
        try directory.write("passwd", "tim:{PLAIN}one\n")
        let eager = PasswdFileAccounts(path: path, reloadInterval: .zero, onProblem: { _ in })
        let lazy = PasswdFileAccounts(path: path, reloadInterval: .seconds(3600), onProblem: { _ in })
        #expect(await eager.verifyPassword(user: "tim", password: bytes("one")) == .success(user: "tim"))
        #expect(await lazy.verifyPassword(user: "tim", password: bytes("one")) == .success(user: "tim"))

        // An atomic replace (new inode), as our editor and most tools do.
        try directory.write("passwd", "tim:{PLAIN}two\nnew:{PLAIN}x\n")
        #expect(await eager.verifyPassword(user: "tim", password: bytes("two")) == .success(user: "tim"))
        #expect(await eager.accountExists(user: "new"))
        // An account added a moment ago logs in at once, whatever the interval.
        #expect(await lazy.verifyPassword(user: "tim", password: bytes("two")) == .success(user: "tim"))
        #expect(await lazy.lookUpAccount(user: "new") == .exists)

        // Removal gives temporary failures; putting it back recovers.
        try FileManagerShim.remove(path)
        guard case .temporaryFailure = await eager.verifyPassword(user: "tim", password: bytes("two")) else {
            Issue.record("expected temporaryFailure")
            return
        }
        try directory.write("passwd", "tim:{PLAIN}three\n")
        #expect(await eager.verifyPassword(user: "tim", password: bytes("three")) == .success(user: "tim"))
    }

    @Test("a file caught half-way through a rewrite in place: the last complete copy serves")
    func tornWrite() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("passwd")
        try directory.write("passwd", "tim:{PLAIN}one\nann:{PLAIN}two\n")
        let problems = NIOLockedValueBox<[String]>([])
        let accounts = PasswdFileAccounts(
            path: path,
            reloadInterval: .zero,
            onProblem: { problem in problems.withLockedValue { $0.append(problem) } }
        )
        #expect(await accounts.verifyPassword(user: "ann", password: bytes("two")) == .success(user: "ann"))

        // Truncated, then cut off in the middle of a line: both accounts still log in.
        for torn in ["", "tim:{PLAIN}one\nann:{PL"] {
            try directory.rewriteInPlace("passwd", torn)
            #expect(await accounts.verifyPassword(user: "tim", password: bytes("one")) == .success(user: "tim"))
            #expect(await accounts.verifyPassword(user: "ann", password: bytes("two")) == .success(user: "ann"))
        }
        #expect(problems.withLockedValue { $0 }.contains { $0.contains("keeping the previous copy") })

        // Finished: the new contents serve.
        try directory.rewriteInPlace("passwd", "tim:{PLAIN}one\nann:{PLAIN}three\n")
        #expect(await accounts.verifyPassword(user: "ann", password: bytes("three")) == .success(user: "ann"))
        #expect(await accounts.verifyPassword(user: "ann", password: bytes("two")) == .invalidCredentials)
    }

    @Test("many concurrent checks")
    func concurrent() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", Self.text)
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let good = index % 2 == 0
                    let result = await accounts.verifyPassword(
                        user: "tim",
                        password: Array((good ? "tanstaaf" : "no").utf8)
                    )
                    return result == (good ? .success(user: "tim") : .invalidCredentials)
                }
            }
            var all: [Bool] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 40)
        #expect(results.allSatisfy { $0 })
    }
}
