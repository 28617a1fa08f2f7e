import FileIO
import MailCore
import SystemPackage
import Testing

@testable import MailStore

/// A clock ten seconds ahead: every stamp taken in a test is then settled (older than
/// `FileStamp.settleTime`), as on a server where the last change is not this instant's.
private let settledClock: @Sendable () -> FileTime = {
    var time = FileTime.now()
    time.seconds += 10
    return time
}

extension MaildirFixture {
    /// A fixture whose store keeps listings in `cache`.
    init(directory: String, cache: MaildirListingCache) throws {
        self.directory = directory
        self.store = MaildirStore(
            template: try MaildirPathTemplate(directory + "/%u/Maildir"),
            takeoverAfter: .seconds(60),
            hostname: "test.example",
            listingCache: cache
        )
    }

    /// Opens, returns what was listed and the messages, and closes.
    func openAndClose(_ user: String = "alice") async throws -> (listed: Int, ids: [UniqueID], sizes: [Int]) {
        let maildrop = try await self.open(user)
        await maildrop.close()
        return (maildrop.directoriesListed, maildrop.messages.map(\.uniqueID), maildrop.messages.map(\.size))
    }
}

@Suite("Maildir listing cache: unchanged maildrops are not listed again, changes are never missed")
struct MaildirListingCacheTests {
    @Test("an unchanged maildrop is not listed again, and its messages are the same")
    func unchangedIsNotListed() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let cache = MaildirListingCache(now: settledClock)
            let fixture = try MaildirFixture(directory: directory, cache: cache)
            try fixture.put("1000.M1P1.h,S=2,W=3", "a\n")
            try fixture.put("1001.M1P1.h:2,S", "bb\n", in: "cur")
            let first = try await fixture.openAndClose()
            #expect(first.listed == 2)
            #expect(first.ids == ["1000.M1P1.h,S=2,W=3", "1001.M1P1.h"])
            #expect(first.sizes == [3, 4])

            let second = try await fixture.open()
            #expect(second.directoriesListed == 0)
            #expect(second.sizesComputed == 0)
            #expect(second.messages.map(\.uniqueID) == first.ids)
            #expect(second.messages.map(\.size) == first.sizes)
            #expect(try await MaildirFixture.content(second, 1) == Array("bb\n".utf8))
            await second.close()
            #expect(cache.counts.maildrops == 1)
            #expect(cache.counts.messages == 2)
        }
    }

    @Test("a delivery by another program is seen, and only new/ is listed again")
    func deliveryIsSeen() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h", "a\n")
            try fixture.put("1001.M1P1.h:2,S", "b\n", in: "cur")
            _ = try await fixture.openAndClose()

            try fixture.put("1002.M1P1.h,S=2,W=3", "c\n")
            let afterPut = try await fixture.openAndClose()
            #expect(afterPut.listed == 1)
            #expect(afterPut.ids == ["1000.M1P1.h", "1001.M1P1.h", "1002.M1P1.h,S=2,W=3"])
            #expect(afterPut.sizes == [3, 3, 3])

            // Through the store, as `postoffice deliver` and LMTP deliver.
            _ = try await fixture.store.deliver(user: "alice", message: Array("dd\n".utf8))
            let afterDeliver = try await fixture.openAndClose()
            #expect(afterDeliver.listed == 1)
            #expect(afterDeliver.sizes == [3, 3, 3, 4])
        }
    }

    @Test("removals and renames by another program are seen; unique-ids stay")
    func otherProgramsChanges() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h", "a\n")
            try fixture.put("1001.M1P1.h", "b\n")
            try fixture.put("1002.M1P1.h:2,", "c\n", in: "cur")
            let first = try await fixture.openAndClose()

            try TestFiles.renameFile(fixture.root() + "/new/1000.M1P1.h", fixture.root() + "/cur/1000.M1P1.h:2,S")
            try TestFiles.renameFile(fixture.root() + "/cur/1002.M1P1.h:2,", fixture.root() + "/cur/1002.M1P1.h:2,RS")
            try TestFiles.removeFile(fixture.root() + "/new/1001.M1P1.h")
            let second = try await fixture.open()
            #expect(second.directoriesListed == 2)
            #expect(second.messages.map(\.uniqueID) == [first.ids[0], first.ids[2]])
            #expect(second.sizesComputed == 0, "a renamed file keeps its counted size")
            #expect(try await MaildirFixture.content(second, 0) == Array("a\n".utf8))
            #expect(try await MaildirFixture.content(second, 1) == Array("c\n".utf8))
            await second.close()
        }
    }

    @Test("a change in the same timestamp tick as the listing is not missed")
    func sameTickChange() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // The real clock, through the store: the files were just made, so the first
            // listing's stamps are not settled and the next open lists again.
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache())
            try fixture.put("1000.M1P1.h", "a\n")
            #expect(try await fixture.openAndClose().listed == 2)
            try fixture.put("1001.M1P1.h", "b\n")
            let second = try await fixture.openAndClose()
            #expect(second.listed >= 1)
            #expect(second.ids == ["1000.M1P1.h", "1001.M1P1.h"])

            // The race itself, made certain: a listing without 1001's successor whose stamp is
            // the directory's stamp after it arrived, as a file system whose clock had not
            // ticked between the listing and the delivery would leave it.
            let maildir = Maildir(path: fixture.root())
            let listedAt = FileTime.now()
            let listing = try MaildirScanner.scan(maildir, previous: nil).listing
            try fixture.put("1002.M1P1.h", "c\n")
            let stamp = FileStamp(try #require(try FileSystem.status(maildir.path(of: .new))))
            var raced = listing
            raced.new = MaildirListing.DirectoryState(stamp: stamp, settled: stamp.isSettled(at: listedAt))
            #expect(!raced.new.settled)
            let rescan = try MaildirScanner.scan(maildir, previous: raced)
            #expect(rescan.directoriesListed >= 1)
            #expect(rescan.listing.messages.map(\.uniqueID) == ["1000.M1P1.h", "1001.M1P1.h", "1002.M1P1.h"])

            // Were that stamp believed, the listing would be used as it is: what the rule prevents.
            raced.new.settled = true
            raced.cur = MaildirListing.DirectoryState(
                stamp: FileStamp(try #require(try FileSystem.status(maildir.path(of: .cur)))),
                settled: true
            )
            let believed = try MaildirScanner.scan(maildir, previous: raced)
            #expect(believed.directoriesListed == 0)
            #expect(believed.listing.messages.count == 2)
        }
    }

    @Test(
        "a stamp settles once the last change is older than a tick; whole-second stamps take longer",
        arguments: [
            (FileTime(seconds: 1000, nanoseconds: 950_000_000), false),
            (FileTime(seconds: 1000, nanoseconds: 850_000_000), true),
            (FileTime(seconds: 999, nanoseconds: 0), false),
            (FileTime(seconds: 998, nanoseconds: 0), true),
            (FileTime(seconds: 998, nanoseconds: 500_000_000), true),
        ]
    )
    func settling(_ change: FileTime, _ settled: Bool) {
        let stamp = FileStamp(device: 1, inode: 2, modification: change, change: change)
        #expect(stamp.isSettled(at: FileTime(seconds: 1001, nanoseconds: 0)) == settled)
        // A later change than the clock (a future mtime set by a program) is never settled.
        let future = FileStamp(device: 1, inode: 2, modification: FileTime(seconds: 2000), change: change)
        #expect(!future.isSettled(at: FileTime(seconds: 1001, nanoseconds: 0)))
    }

    @Test("UPDATE updates the cached listing, and the next open finds what came meanwhile")
    func updateUpdatesTheCache() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let cache = MaildirListingCache(now: settledClock)
            let fixture = try MaildirFixture(directory: directory, cache: cache)
            for second in 1000..<1004 {
                try fixture.put("\(second).M1P1.h,S=2,W=3", "m\n")
            }
            try fixture.put("999.M1P1.h,S=2,W=3:2,S", "s\n", in: "cur")
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.count == 5)
            // Another program delivers while the session runs; the session deletes two.
            try fixture.put("1005.M1P1.h,S=2,W=3", "late\n")
            try await maildrop.commitDeletions([1, 3])
            await maildrop.close()
            #expect(cache.counts.messages == 3)

            let next = try await fixture.open()
            #expect(next.directoriesListed == 1, "new/ changed under the deletions; cur/ did not")
            #expect(
                next.messages.map(\.uniqueID)
                    == ["999.M1P1.h,S=2,W=3", "1001.M1P1.h,S=2,W=3", "1003.M1P1.h,S=2,W=3", "1005.M1P1.h,S=2,W=3"]
            )
            await next.close()
            #expect(cache.counts.messages == 4)
        }
    }

    @Test("tmp/ is cleaned at a later open too: when it changed, and while it holds files not yet stale")
    func temporaryFilesWithAKeptListing() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h,S=2,W=3", "a\n")
            _ = try await fixture.openAndClose()
            let stale = FileTime.now().seconds - 37 * 3600

            // Something arrives in tmp/ and is left there: its stamp moved.
            try fixture.put("2000.M1P1.left", "x", in: "tmp")
            try TestFiles.setModificationTime(fixture.root() + "/tmp/2000.M1P1.left", seconds: stale)
            #expect(try await fixture.openAndClose().listed == 0)
            #expect(try TestFiles.list(fixture.root() + "/tmp") == [])

            // A file not stale yet becomes stale without tmp/ changing: still removed.
            try fixture.put("2001.M1P1.slow", "y", in: "tmp")
            _ = try await fixture.openAndClose()
            #expect(try TestFiles.list(fixture.root() + "/tmp") == ["2001.M1P1.slow"])
            try TestFiles.setModificationTime(fixture.root() + "/tmp/2001.M1P1.slow", seconds: stale)
            _ = try await fixture.openAndClose()
            #expect(try TestFiles.list(fixture.root() + "/tmp") == [])
        }
    }

    @Test("a Maildir removed after its listing was kept is made again, empty")
    func removedMaildir() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h,S=2,W=3", "a\n")
            #expect(try await fixture.openAndClose().ids.count == 1)
            TestFiles.removeTree(directory + "/alice")
            let again = try await fixture.openAndClose()
            #expect(again.ids.isEmpty)
            for sub in ["cur", "new", "tmp"] {
                #expect(TestFiles.exists(fixture.root() + "/" + sub))
            }
        }
    }

    @Test("a dovecot-uidlist that appears, changes or goes after a listing was kept counts at the next open")
    func inheritedUIDLsChange() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1276528487.M1P1.kurkku,S=4,W=5", "one\n")
            try fixture.put("1276528488.M1P2.kurkku,S=4,W=5", "two\n")
            let own = try await fixture.openAndClose()
            #expect(own.ids == ["1276528487.M1P1.kurkku,S=4,W=5", "1276528488.M1P2.kurkku,S=4,W=5"])

            let uidlist = fixture.root() + "/dovecot-uidlist"
            try TestFiles.writeFile(uidlist, "3 V1700000000 N2 G00\n1 :1276528487.M1P1.kurkku,S=4,W=5\n")
            let first = try await fixture.openAndClose()
            #expect(first.listed == 0, "the directories did not change")
            #expect(first.ids == ["000000016553f100", "1276528488.M1P2.kurkku,S=4,W=5"])

            // Rewritten in place, as a migration script might.
            try TestFiles.writeFile(
                uidlist,
                "3 V1700000000 N3 G00\n1 :1276528487.M1P1.kurkku,S=4,W=5\n2 :1276528488.M1P2.kurkku,S=4,W=5\n"
            )
            #expect(try await fixture.openAndClose().ids == ["000000016553f100", "000000026553f100"])

            try TestFiles.removeFile(uidlist)
            #expect(try await fixture.openAndClose().ids == own.ids)
        }
    }

    @Test("a file rewritten in place is counted again though its directory did not change")
    func rewrittenFile() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h", "a\n")
            #expect(try await fixture.openAndClose().sizes == [3])
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", "a\nlonger\n")
            let second = try await fixture.open()
            #expect(second.directoriesListed == 0)
            #expect(second.sizesComputed == 1)
            #expect(second.messages.map(\.size) == [11])
            await second.close()
            let file = SizeCache(parsing: try TestFiles.readFile(fixture.root() + "/postoffice-sizes"))
            #expect(file.entries[ArraySlice("1000.M1P1.h".utf8)]?.crlfSize == 11)
        }
    }

    @Test("a message in both new/ and cur/ is one message, cur/'s")
    func sameBaseNameTwice() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            try fixture.put("1000.M1P1.h", "new\n")
            try fixture.put("1000.M1P1.h:2,S", "cur\n", in: "cur")
            try fixture.put("1001.M1P1.h", "other\n")
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.map(\.uniqueID) == ["1000.M1P1.h", "1001.M1P1.h"])
            #expect(try await MaildirFixture.content(maildrop, 0) == Array("cur\n".utf8))
            await maildrop.close()
        }
    }

    @Test("unique-ids that collide are made unique, as UniqueIDMapper does")
    func collidingIDs() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, cache: MaildirListingCache(now: settledClock))
            let long = "1001.M1P1." + String(repeating: "h", count: 80)
            let digest = UniqueIDMapper.digestID(Array(long.utf8), salt: 0)
            try fixture.put(long, "a\n")
            try fixture.put(digest, "b\n")
            let ids = try await fixture.openAndClose().ids
            #expect(Set(ids).count == 2)
            let expected = UniqueIDMapper.uniqueIDs(for: [ArraySlice(digest.utf8), ArraySlice(long.utf8)])
            #expect(Set(ids.map(\.rawValue)) == Set(expected))
            #expect(try await fixture.openAndClose().ids == ids)
        }
    }

    @Test("the cache is bounded by messages and by maildrops, least recently used out")
    func bounded() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let cache = MaildirListingCache(maximumMessages: 5, maximumMaildrops: 2, now: settledClock)
            let fixture = try MaildirFixture(directory: directory, cache: cache)
            for (user, count) in [("alice", 3), ("bob", 2), ("carol", 1), ("dave", 6)] {
                for index in 0..<count {
                    try fixture.put("\(1000 + index).M1P1.h,S=2,W=3", "m\n", user: user)
                }
            }
            _ = try await fixture.openAndClose("alice")
            _ = try await fixture.openAndClose("bob")
            #expect(cache.counts.maildrops == 2 && cache.counts.messages == 5)
            #expect(try await fixture.openAndClose("alice").listed == 0)

            // carol's one message would make six: bob, the least recently used, goes.
            _ = try await fixture.openAndClose("carol")
            #expect(cache.counts.maildrops == 2 && cache.counts.messages == 4)
            #expect(try await fixture.openAndClose("alice").listed == 0)
            #expect(try await fixture.openAndClose("bob").listed == 2)

            // Larger than the bound: served, not kept; the others stay.
            let dave = try await fixture.openAndClose("dave")
            #expect(dave.ids.count == 6)
            #expect(try await fixture.openAndClose("dave").listed == 2)
            #expect(cache.counts.messages <= 5)
            #expect(cache.counts.maildrops <= 2)
        }
    }
}
