import Fetch
import Foundation
import Glibc
import NIOConcurrencyHelpers

/// A progress bar per account on a terminal: messages, bytes, rate, ETA. Redrawn at most
/// ten times a second, on standard error, only when that is a terminal.
final class ProgressDisplay: Sendable {
    fileprivate struct Line {
        var name: String
        var messages = 0
        var stored = 0
        var totalBytes = 0
        var receivedBytes = 0
        var started: Double?
        var finished = false
    }

    fileprivate struct State {
        var lines: [Line]
        var drawnLines = 0
        var lastDraw = 0.0
    }

    private let enabled: Bool
    private let state: NIOLockedValueBox<State>

    init(accounts: [String], enabled: Bool) {
        self.enabled = enabled
        self.state = NIOLockedValueBox(State(lines: accounts.map { Line(name: $0) }))
    }

    func handle(_ event: FetchProgress) {
        guard enabled else { return }
        let now = Self.now()
        state.withLockedValue { state in
            switch event {
            case .planned(let account, let messages, let bytes):
                state.update(account) {
                    $0.messages = messages
                    $0.totalBytes = bytes
                    $0.started = now
                }
            case .received(let account, let bytes):
                state.update(account) { $0.receivedBytes += bytes }
            case .stored(let account):
                state.update(account) { $0.stored += 1 }
            case .finished(let account):
                state.update(account) { $0.finished = true }
            }
            let force: Bool
            switch event {
            case .received: force = false
            default: force = true
            }
            if force || now - state.lastDraw >= 0.1 {
                state.lastDraw = now
                Self.draw(&state, now: now)
            }
        }
    }

    func finish() {
        guard enabled else { return }
        state.withLockedValue { Self.draw(&$0, now: Self.now()) }
    }

    private static func draw(_ state: inout State, now: Double) {
        var output = ""
        if state.drawnLines > 0 { output += "\u{1B}[\(state.drawnLines)F" }
        let width = terminalWidth()
        let nameWidth = min(24, state.lines.map(\.name.count).max() ?? 0)
        for line in state.lines {
            output += "\u{1B}[2K" + render(line, nameWidth: nameWidth, width: width, now: now) + "\n"
        }
        state.drawnLines = state.lines.count
        FileHandle.standardError.write(Data(output.utf8))
    }

    private static func render(_ line: Line, nameWidth: Int, width: Int, now: Double) -> String {
        let name = String(line.name.prefix(nameWidth)).padding(toLength: nameWidth, withPad: " ", startingAt: 0)
        guard let started = line.started else {
            return "\(name)  " + (line.finished ? "done" : "connecting…")
        }
        let fraction =
            line.totalBytes > 0 ? min(1, Double(line.receivedBytes) / Double(line.totalBytes)) : (line.finished ? 1 : 0)
        let elapsed = max(0.001, now - started)
        let rate = Double(line.receivedBytes) / elapsed
        var status =
            "\(line.stored)/\(line.messages) msgs  \(formatBytes(line.receivedBytes))  \(formatBytes(Int(rate)))/s"
        if line.finished {
            status += "  done"
        } else if rate > 0, line.totalBytes > line.receivedBytes {
            let remaining = Int(Double(line.totalBytes - line.receivedBytes) / rate)
            status += String(format: "  ETA %d:%02d", remaining / 60, remaining % 60)
        }
        let barWidth = max(10, min(30, width - nameWidth - status.count - 6))
        let filled = Int(fraction * Double(barWidth))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        return "\(name)  [\(bar)] \(status)"
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private static func now() -> Double {
        ProcessInfo.processInfo.systemUptime
    }
}

extension ProgressDisplay.State {
    fileprivate mutating func update(_ account: String, _ body: (inout ProgressDisplay.Line) -> Void) {
        guard let index = lines.firstIndex(where: { $0.name == account }) else { return }
        body(&lines[index])
    }
}
