import PostgresStore
import Testing

@Suite struct PostgresURLTests {
    @Test func fullURL() throws {
        let url = try PostgresURL(
            parsing: "postgresql://mail:s%40cret@db.example:6432/post?sslmode=disable&pool_size=4"
        )
        #expect(url.endpoint == .tcp(host: "db.example", port: 6432))
        #expect(url.user == "mail")
        #expect(url.password == "s@cret")
        #expect(url.database == "post")
        #expect(url.tlsMode == .disable)
        #expect(url.poolSize == 4)
    }

    @Test func passwordNeverInDescription() throws {
        let url = try PostgresURL(parsing: "postgres://mail:hunter2@127.0.0.1/post", environment: [:])
        #expect(url.description == "postgresql://mail@127.0.0.1:5432/post")
        #expect(!url.description.contains("hunter2"))
    }

    @Test func socketDirectoryAndEnvironment() throws {
        let url = try PostgresURL(
            parsing: "postgresql:///mail?host=/tmp/pg",
            environment: ["PGUSER": "po", "PGPORT": "5999", "PGPASSWORD": "x"]
        )
        #expect(url.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.5999"))
        #expect(url.user == "po")
        #expect(url.password == "x")
        #expect(url.database == "mail")
    }

    @Test func ipv6Host() throws {
        let url = try PostgresURL(parsing: "postgresql://u@[::1]:5433/d", environment: [:])
        #expect(url.endpoint == .tcp(host: "::1", port: 5433))
        #expect(url.description == "postgresql://u@[::1]:5433/d")
    }

    @Test(arguments: [
        "mysql://x/y",
        "postgresql://u@h:99999/d",
        "postgresql://u@h/d?sslmode=sometimes",
        "postgresql://u@h/d?pool_size=0",
        "postgresql://u@h/d?colour=blue",
        "postgresql://u:%zz@h/d",
    ])
    func rejected(_ text: String) {
        #expect(throws: PostgresURL.InvalidURL.self) { try PostgresURL(parsing: text, environment: [:]) }
    }

    @Test func errorsDoNotEchoThePassword() {
        do {
            _ = try PostgresURL(parsing: "postgresql://u:Qx7%zzWv9@h/d", environment: [:])
            Issue.record("accepted a bad escape")
        } catch {
            #expect(error.description.contains("password"))
            #expect(!error.description.contains("Qx7"))
            #expect(!error.description.contains("Wv9"))
        }
    }
}
