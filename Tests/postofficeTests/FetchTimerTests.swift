import Testing

@testable import postoffice

@Suite("fetch --install-timer")
struct FetchTimerTests {
    @Test func unitsRunTheSameFetchEveryInterval() {
        let units = FetchTimer.units(
            binary: "/opt/post office/bin/postoffice",
            arguments: ["--config", "fetch.toml", "--account", "work"],
            workingDirectory: "/home/al",
            interval: 600,
            environment: ["XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "relative/ignored", "HOME": "/home/al"]
        )
        #expect(
            units.service.contains(
                "ExecStart=\"/opt/post office/bin/postoffice\" fetch --config fetch.toml --account work\n"
            )
        )
        #expect(units.service.contains("Type=oneshot\n"))
        #expect(units.service.contains("WorkingDirectory=/home/al\n"))
        #expect(units.service.contains("Environment=XDG_DATA_HOME=/data\n"))
        #expect(!units.service.contains("XDG_CONFIG_HOME"), "a relative XDG directory is invalid and ignored")
        #expect(units.service.contains("SuccessExitStatus=75\n"))
        #expect(units.timer.contains("OnUnitActiveSec=10min\n"))
        #expect(units.timer.contains("OnBootSec=1min\n"))
        #expect(units.timer.contains("AccuracySec=1min\n"))
        #expect(units.timer.contains("WantedBy=timers.target\n"))
        #expect(
            units.command == [
                "/opt/post office/bin/postoffice", "fetch", "--config", "fetch.toml", "--account", "work",
            ]
        )
    }

    @Test(
        "the timer's own flags stay out of the service",
        arguments: [
            (["/bin/postoffice", "fetch", "--install-timer"], [String]()),
            (["/bin/postoffice", "fetch", "--install-timer", "--interval", "5m", "--print", "--json"], ["--json"]),
            (
                ["/bin/postoffice", "fetch", "--interval=1h", "--install-timer", "--config", "c.toml"],
                ["--config", "c.toml"]
            ),
        ]
    )
    func fetchArguments(_ arguments: [String], _ expected: [String]) {
        #expect(FetchTimer.fetchArguments(arguments) == expected)
    }

    @Test(
        "systemd words and spans",
        arguments: [
            ("plain", "plain"), ("with space", "\"with space\""), ("100%", "100%%"), ("$HOME", "$$HOME"),
            ("say \"hi\"", "\"say \\\"hi\\\"\""), ("back\\slash", "\"back\\\\slash\""), ("", "\"\""),
        ]
    )
    func systemdQuoting(_ word: String, _ quoted: String) {
        #expect(FetchTimer.systemdQuoted(word) == quoted)
    }

    @Test(arguments: [(60.0, "1min"), (300, "5min"), (3600, "1h"), (7200, "2h"), (90, "90s"), (5400, "90min")])
    func spans(_ seconds: Double, _ text: String) {
        #expect(FetchTimer.systemdSpan(seconds) == text)
    }

    @Test(
        "crontab lines",
        arguments: [
            (300.0, ["/bin/postoffice", "fetch"], "*/5 * * * * /bin/postoffice fetch"),
            (60, ["/bin/postoffice", "fetch"], "* * * * * /bin/postoffice fetch"),
            (3600, ["/bin/postoffice", "fetch"], "0 * * * * /bin/postoffice fetch"),
            (10800, ["/bin/postoffice", "fetch"], "0 */3 * * * /bin/postoffice fetch"),
            (
                600, ["/bin/postoffice", "fetch", "--config", "my 100%.toml"],
                "*/10 * * * * cd /home/al && /bin/postoffice fetch --config 'my 100\\%.toml'"
            ),
        ]
    )
    func cronLines(_ interval: Double, _ command: [String], _ line: String) {
        #expect(FetchTimer.cronLine(command, interval: interval, workingDirectory: "/home/al") == line)
    }
}
