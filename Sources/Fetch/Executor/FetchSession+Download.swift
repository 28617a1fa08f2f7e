// Receiving messages (RETR, TOP) and handing them to the worker in whole pieces.
import NIOCore
import POP3Client

/// A message being received: its bytes are held until its end, or in pieces of
/// `spillThreshold` when it is large (memory stays bounded whatever its size).
private struct InFlight {
    var item: FetchSession.PlannedDownload
    var chunks: [ByteBuffer] = []
    var held = 0
    var received = 0
    /// Some of it was written already (the worker has an open writer).
    var spilled = false
}

/// A message received whole, waiting to be stored with the rest of its group.
struct ReceivedWhole: Sendable {
    var message: ReceivedMessage
    /// Octets received (CRLF line ends); nil for `TOP`, whose header is not compared with the
    /// message's size.
    var received: Int?
}

extension FetchSession {
    /// The most octets of one message held in memory before they are written: one hop to the
    /// blocking pool per this much of a large message, one per group of small ones.
    static let spillThreshold = 1 << 20
    /// The most octets of whole messages held before the group is stored even though the
    /// window is not over (memory stays bounded whatever the window).
    static let groupThreshold = 4 << 20

    /// `RETR` of a window of messages (pipelined when the server allows); the window's messages
    /// are stored as one group (`StoreWorker.store`), before any of them may be deleted.
    mutating func retrieve(_ batch: [PlannedDownload], from source: any MailSource) async throws {
        var byNumber: [Int: PlannedDownload] = [:]
        for item in batch { byNumber[item.download.number] = item }
        var current: InFlight?
        do {
            try await source.retrieve(batch.map(\.download.number)) { event in
                switch event {
                case .begin(let number):
                    current = nil
                    guard !self.shouldStop, let item = byNumber[number] else { return }
                    current = InFlight(item: item)
                case .bytes(let buffer):
                    guard current != nil else { return }
                    self.report.bytes += buffer.readableBytes
                    self.options.progress?(.received(account: self.account.name, bytes: buffer.readableBytes))
                    current = try await self.receive(buffer, into: current)
                case .end:
                    guard let message = current else { return }
                    current = nil
                    try await self.received(message, countsSize: true)
                }
            }
        } catch let fault as InjectedFault {
            throw fault  // a simulated crash: nothing more happens
        } catch {
            // The connection failed mid-message: the partial copy is useless (the next run
            // downloads the message again); remove it rather than leave it in tmp/. The whole
            // messages before it are stored (nothing is deleted: there is no QUIT).
            if let message = current, message.spilled {
                await worker.discard(message.item.download.uniqueID)
            }
            do {
                try await storeGroup()
            } catch let fault as InjectedFault {
                throw fault
            } catch {
                // The connection's failure is the one to report.
            }
            throw error
        }
        try await storeGroup()
    }

    /// `TOP n 0` of one message (its header).
    mutating func fetchHeaders(_ item: PlannedDownload, from source: any MailSource) async throws {
        var current: InFlight?
        do {
            try await source.top(item.download.number, lines: 0) { event in
                switch event {
                case .begin:
                    current = InFlight(item: item)
                case .bytes(let buffer):
                    guard current != nil else { return }
                    self.report.bytes += buffer.readableBytes
                    current = try await self.receive(buffer, into: current)
                case .end:
                    guard let message = current else { return }
                    current = nil
                    try await self.received(message, countsSize: false)
                }
            }
        } catch {
            if let message = current, message.spilled {
                await worker.discard(message.item.download.uniqueID)
            }
            throw error
        }
        try await storeGroup()
    }

    /// Adds a chunk; writes what is held once it is large. Returns the message, or nil when
    /// storing it failed (the rest of it is then ignored).
    private mutating func receive(_ buffer: ByteBuffer, into current: InFlight?) async throws -> InFlight? {
        guard var message = current else { return nil }
        let download = message.item.download
        message.received += buffer.readableBytes
        guard message.received <= BodySize.maximum(listed: download.size) else {
            // A body far beyond its listed size: broken or hostile; the session ends without
            // QUIT (nothing deleted) and the partial copy goes (the caller discards it).
            throw BodySize.oversized(download)
        }
        message.chunks.append(buffer)
        message.held += buffer.readableBytes
        guard message.held >= Self.spillThreshold else { return message }
        if let failure = await worker.spill(message.chunks, of: envelope(download), replacing: message.item.replacing) {
            failed(download, failure)
            return nil
        }
        message.chunks.removeAll(keepingCapacity: true)
        message.held = 0
        message.spilled = true
        return message
    }

    /// A message arrived whole: it joins the group, which is stored now if it holds much.
    private mutating func received(_ message: InFlight, countsSize: Bool) async throws {
        let download = message.item.download
        group.append(
            ReceivedWhole(
                message: ReceivedMessage(
                    download: download,
                    envelope: envelope(download),
                    replacing: message.item.replacing,
                    chunks: message.chunks,
                    entry: entry(download, location: "", received: countsSize ? message.received : nil)
                ),
                received: countsSize ? message.received : nil
            )
        )
        groupBytes += message.held
        if groupBytes >= Self.groupThreshold {
            try await storeGroup()
        }
    }

    /// Stores and records the group; decides for each whether it may be deleted on the server.
    mutating func storeGroup() async throws {
        guard !group.isEmpty else { return }
        let pending = group
        group = []
        groupBytes = 0
        let results = try await worker.store(pending.map(\.message))
        for (item, result) in zip(pending, results) {
            switch result {
            case .success: stored(item)
            case .failure(let failure): failed(item.message.download, failure)
            case nil: continue  // not tried after an earlier failure
            }
        }
    }

    private mutating func stored(_ item: ReceivedWhole) {
        let download = item.message.download
        report.downloaded += 1
        options.progress?(.stored(account: account.name))
        if let received = item.received, BodySize.isClearlyShort(received: received, listed: download.size) {
            // Stored (it may be all there is), but it does not count as stored for deletion: the
            // server's copy stays, and the next run downloads it again to replace this one.
            report.shortCopies += 1
            report.warnings.append(
                "message \(download.uniqueID) is \(received) octets, shorter than the \(download.size) "
                    + "the server listed: stored, but left on the server; the next run downloads it again"
                    + (capabilities.replacesCopies ? " and replaces this copy" : "")
            )
            return
        }
        if download.reason == .shortCopy {
            report.warnings.append(
                "message \(download.uniqueID) was stored short by an earlier run; now complete"
                    + (capabilities.replacesCopies
                        ? ", and the short copy is replaced" : " (the short copy stays beside it)")
            )
        }
        if download.deleteAfterStoring {
            toDelete.append((download.number, download.uniqueID))
        }
    }

    private mutating func failed(_ download: FetchPlan.Download, _ failure: FetchFailure) {
        var failure = failure
        failure.uniqueID = failure.uniqueID ?? download.uniqueID
        report.errors.append(failure)
        // A command that refuses one message may accept the next; a failing disk will not.
        if !capabilities.failuresArePerMessage { localWritesBroken = true }
    }
}
