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

/// A group handed to the worker: its messages, and the store running on the blocking pool.
struct GroupBeingStored {
    var group: [ReceivedWhole]
    var task: Task<[Result<String, FetchFailure>?], any Error>
}

extension FetchSession {
    /// The most octets of one message held in memory before they are written: one hop to the
    /// blocking pool per this much of a large message, one per group of small ones.
    static let spillThreshold = 1 << 20
    /// The most octets of whole messages held before the group is stored even though the
    /// window is not over (memory stays bounded whatever the window).
    static let groupThreshold = 4 << 20

    /// `RETR` of every message to download, as one pipelined stream (the client keeps
    /// `pipelineWindow` commands and `pipelineBytes` of listed octets in flight, asking for more
    /// as replies arrive). Messages are stored in groups of `pipelineWindow` (or
    /// `groupThreshold` octets): each group is handed to the worker (`StoreWorker.store`: written,
    /// fsynced, made visible, one directory fsync, one transaction) while the next one is
    /// received, so the network and the disk work at once; one group is stored at a time, in
    /// order, and none of its messages is deleted before its store returns. While the last
    /// group is stored, the messages recorded before it are sent `DELE`.
    mutating func retrieve(_ downloads: [PlannedDownload], from source: any MailSource) async throws {
        var byNumber: [Int: PlannedDownload] = [:]
        for item in downloads { byNumber[item.download.number] = item }
        var current: InFlight?
        do {
            try await source.retrieve(
                downloads.map { SourceListEntry(number: $0.download.number, size: $0.download.size) },
                sendingWhile: { !self.shouldStop }
            ) { event in
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
            await abandonStoring()
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
                await abandonStoring()
            }
            throw error
        }
        try await startStoringGroup()
        if storing != nil {
            do {
                try await sendDeletions(source)
            } catch {
                await abandonStoring()
                throw error
            }
        }
        try await finishStoring()
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

    /// A message arrived whole: it joins the group, which goes to the worker once it holds a
    /// window of messages or much data.
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
        if group.count >= max(1, account.pipelineWindow) || groupBytes >= Self.groupThreshold {
            try await startStoringGroup()
        }
    }

    /// Hands the group to the worker, which stores it while the session receives the next.
    /// Waits first for the group before (one store at a time, in order; so memory holds at
    /// most the group being stored and the one being received). After a failure that stops
    /// the account's writes, the group is not tried.
    mutating func startStoringGroup() async throws {
        guard !group.isEmpty else { return }
        try await finishStoring()
        let pending = group
        group = []
        groupBytes = 0
        guard !localWritesBroken else {
            // Not tried (as after the first failure within a group): what was spilled of them goes.
            for item in pending { await worker.discard(item.message.envelope.key.uniqueID) }
            return
        }
        let worker = self.worker
        let messages = pending.map(\.message)
        storing = GroupBeingStored(group: pending, task: Task { try await worker.store(messages) })
    }

    /// Waits for the group being stored, and decides for each of its messages whether it may
    /// be deleted on the server.
    mutating func finishStoring() async throws {
        guard let current = storing else { return }
        storing = nil
        let results = try await current.task.value
        for (item, result) in zip(current.group, results) {
            switch result {
            case .success: stored(item)
            case .failure(let failure): failed(item.message.download, failure)
            case nil: continue  // not tried after an earlier failure
            }
        }
    }

    /// Stores what is held and waits until every group is stored and recorded.
    mutating func storeGroup() async throws {
        try await startStoringGroup()
        try await finishStoring()
    }

    /// Waits for a store in flight without using its outcome: the session is ending on an
    /// error (or a simulated crash), and nothing may go on writing after the run returns.
    mutating func abandonStoring() async {
        guard let current = storing else { return }
        storing = nil
        _ = try? await current.task.value
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
