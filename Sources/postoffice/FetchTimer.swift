// `postoffice fetch --install-timer`: a systemd user service that runs this fetch once, and a
// timer that starts it every interval (systemd.service(5), systemd.timer(5)). Without systemd,
// a crontab line does the same (README, "Checking for mail automatically").

import ArgumentParser
import FileIO
import Foundation

enum FetchTimer {
    static let serviceName = "postoffice-fetch.service"
    static let timerName = "postoffice-fetch.timer"
    /// The interval when neither --interval nor the config's `[fetch] interval` gives one.
    static let defaultInterval: Double = 300

    static func run(_ command: FetchCommand) async throws {
        guard command.installTimer else { throw ValidationError("--print goes with --install-timer") }
        guard !command.daemon else {
            throw ValidationError("--install-timer runs one fetch per tick; leave out --daemon")
        }
        let (flag, config, host) = (command.interval, command.config, command.host)
        let interval = try await BlockingIO.run { try Self.interval(flag: flag, config: config, host: host) }
        let units = Self.units(
            binary: Self.executablePath(),
            arguments: Self.fetchArguments(CommandLine.arguments),
            workingDirectory: FileManager.default.currentDirectoryPath,
            interval: interval,
            environment: ProcessInfo.processInfo.environment
        )
        let directory = XDG.configHome + "/systemd/user"
        if command.printUnits {
            say("# \(directory)/\(serviceName)\n\(units.service)\n# \(directory)/\(timerName)\n\(units.timer)")
            return
        }
        try await BlockingIO.run {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(units.service.utf8).write(
                to: URL(fileURLWithPath: "\(directory)/\(serviceName)"),
                options: .atomic
            )
            try Data(units.timer.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(timerName)"), options: .atomic)
        }
        say(
            "Wrote \(directory)/\(serviceName) and \(timerName) (every \(Self.systemdSpan(interval))). Start them with:"
        )
        say("  systemctl --user daemon-reload")
        say("  systemctl --user enable --now \(timerName)")
        say("Without systemd, the same from cron (crontab -e):")
        say(
            "  \(Self.cronLine(units.command, interval: interval, workingDirectory: FileManager.default.currentDirectoryPath))"
        )
    }

    /// --interval, else the config file's `[fetch] interval`, else five minutes.
    private static func interval(flag: String?, config: String?, host: String?) throws -> Double {
        if let text = flag {
            guard let value = parseDuration(text), value >= 60 else {
                throw ValidationError("--interval '\(text)' is not a duration of at least a minute (e.g. 5m, 1h)")
            }
            return value
        }
        let path = config ?? XDG.defaultFetchConfig
        if host == nil, FileManager.default.fileExists(atPath: path),
            let configured = try FetchFileSettings(path: path).interval
        {
            return max(configured, 60)
        }
        return Self.defaultInterval
    }

    /// The arguments after `fetch`, without the ones that asked for the timer.
    static func fetchArguments(_ arguments: [String]) -> [String] {
        guard let start = arguments.firstIndex(of: "fetch") else { return [] }
        var result: [String] = []
        var index = start + 1
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--install-timer", "--print": continue
            case "--interval": index += 1
            default:
                if argument.hasPrefix("--interval=") { continue }
                result.append(argument)
            }
        }
        return result
    }

    /// The running binary's absolute path (`swift run` builds it under .build).
    static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        let first = CommandLine.arguments[0]
        return first.hasPrefix("/") ? first : FileManager.default.currentDirectoryPath + "/" + first
    }

    /// The service and timer for `binary fetch arguments`, run in `workingDirectory` (relative
    /// paths in the arguments keep their meaning) with the XDG directories of this run.
    static func units(
        binary: String,
        arguments: [String],
        workingDirectory: String,
        interval: Double,
        environment: [String: String]
    ) -> (service: String, timer: String, command: [String]) {
        let command = [binary, "fetch"] + arguments
        var service = """
            [Unit]
            Description=PostOffice: download mail from POP3 servers

            [Service]
            Type=oneshot
            ExecStart=\(command.map(Self.systemdQuoted).joined(separator: " "))
            WorkingDirectory=\(Self.systemdQuoted(workingDirectory))

            """
        for name in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"] {
            if let value = environment[name], value.hasPrefix("/") {
                service += "Environment=\(Self.systemdQuoted("\(name)=\(value)"))\n"
            }
        }
        // 75: another run still holds the account (a long download); the next tick tries again.
        service += "SuccessExitStatus=75\n"
        let span = Self.systemdSpan(interval)
        let timer = """
            [Unit]
            Description=PostOffice: download mail every \(span)

            [Timer]
            OnBootSec=1min
            OnUnitActiveSec=\(span)
            AccuracySec=\(Self.systemdSpan(max(1, (interval / 10).rounded(.down))))

            [Install]
            WantedBy=timers.target

            """
        return (service, timer, command)
    }

    /// `5min`, `1h`, `90s` (systemd.time(7)).
    static func systemdSpan(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        if whole % 3600 == 0 { return "\(whole / 3600)h" }
        if whole % 60 == 0 { return "\(whole / 60)min" }
        return "\(whole)s"
    }

    /// One word of a command line in a unit file: double-quoted when needed, with `\` and `"`
    /// escaped, and `%` and `$` doubled so systemd takes them literally (systemd.service(5)).
    static func systemdQuoted(_ word: String) -> String {
        var escaped = word.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
        let plain = !word.isEmpty && word.allSatisfy { $0.isASCII && !$0.isWhitespace && !"\"'\\;".contains($0) }
        if plain { return escaped }
        escaped = escaped.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"" + escaped + "\""
    }

    /// A crontab(5) line for the same command: every N minutes (a whole number of minutes, at
    /// least 1; hours as `0 */N`), in `workingDirectory` when the command has arguments (they
    /// may be relative paths). `%` is escaped: cron turns it into a newline.
    static func cronLine(_ command: [String], interval: Double, workingDirectory: String) -> String {
        let minutes = max(1, Int((interval / 60).rounded()))
        let schedule: String
        if minutes % 60 == 0 && minutes >= 60 {
            schedule = minutes == 60 ? "0 * * * *" : "0 */\(minutes / 60) * * *"
        } else {
            schedule = minutes == 1 ? "* * * * *" : "*/\(minutes) * * * *"
        }
        var line = command.map(shellQuoted).joined(separator: " ")
        if command.count > 2 { line = "cd \(shellQuoted(workingDirectory)) && " + line }
        return schedule + " " + line.replacingOccurrences(of: "%", with: "\\%")
    }
}
