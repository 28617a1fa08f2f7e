import FileIO
import MailCore
import SystemPackage
import Testing

@testable import MailStore

@Suite("UIDLs inherited from Dovecot and Courier")
struct InheritedUIDLsTests {
    private func parsedDovecot(_ text: String) -> [String: String] {
        Self.strings(InheritedUIDLs.parseDovecot(Array(text.utf8)))
    }

    private func parsedCourier(_ text: String) -> [String: String] {
        Self.strings(InheritedUIDLs.parseCourier(Array(text.utf8)))
    }

    private static func strings(_ ids: [ArraySlice<UInt8>: String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: ids.map { (String(decoding: $0.key, as: UTF8.self), $0.value) })
    }

    @Test("dovecot-uidlist version 3: %08Xu%08Xv, a P field overrides, names matched by base name")
    func dovecotVersion3() {
        let ids = parsedDovecot(
            """
            3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
            25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,
            25017 W2481 :1276533073.M242911P3632.kurkku:2,F
            25018 W10 P0000beef-old-uidl G0123abcd :1276533074.M1P2.kurkku
            25019 :1276533075.M1P3.kurkku

            """
        )
        #expect(
            ids == [
                "1276528487.M364837P9451.kurkku,S=1355,W=1394": "000061ae4c0907b0",
                "1276533073.M242911P3632.kurkku": "000061b94c0907b0",
                "1276533074.M1P2.kurkku": "0000beef-old-uidl",
                "1276533075.M1P3.kurkku": "000061bb4c0907b0",
            ]
        )
    }

    @Test("dovecot-uidlist version 1 (Courier's layout, as migration scripts write it)")
    func dovecotVersion1() {
        let ids = parsedDovecot("1 1275660208 12\n7 1276528487.M1P1.host:2,S\n11 1276528488.M1P2.host\n")
        #expect(ids == ["1276528487.M1P1.host": "000000074c0907b0", "1276528488.M1P2.host": "0000000b4c0907b0"])
    }

    @Test(
        "an unknown or broken dovecot-uidlist gives nothing; broken lines are skipped",
        arguments: [
            "2 V1 N2\n1 :a.b.c\n",  // version 2 was never released
            "3 N2 G00\n1 :a.b.c\n",  // no UIDVALIDITY
            "3 V4294967296 N2\n1 :a.b.c\n",  // not 32 bits
            "",
            "garbage",
        ]
    )
    func dovecotRefused(text: String) {
        #expect(parsedDovecot(text).isEmpty)
    }

    @Test("broken dovecot-uidlist lines are skipped")
    func dovecotBrokenLines() {
        let ids = parsedDovecot(
            """
            3 V1 N9
            0 :zero.uid.host
            x :not.a.number
            5 W12
            6 W12 P
            7 :
            8 W1 :good.name.host
            4294967296 :too.big.host
            """
        )
        #expect(ids == ["good.name.host": "0000000800000001"])
    }

    @Test("courierpop3dsizelist versions 2 and 3: UID<n>-<uidv>, UID<n>, and uid 0 by name")
    func courier() {
        let version3 = parsedCourier(
            """
            /3 8 1300000000
            1300000001.M1P1.host:2,S 1024 1:1300000000:0
            1300000002.M1P2.host 2048 2:1300000000:1
            1300000003.M1P3.host 10 3:0:0
            odd name+'x".host 10 0:0:0
            bad line
            1300000004.M1P4.host ten 4:1300000000:0
            1300000005.M1P5.host 10 5
            """
        )
        #expect(
            version3 == [
                "1300000001.M1P1.host": "UID1-1300000000",
                "1300000002.M1P2.host": "UID2-1300000000",
                "1300000003.M1P3.host": "UID3",
                "odd name+'x\".host": "odd+20name+2B+27x+22.host",
            ]
        )
        let version2 = parsedCourier("/2 3 99\n1300000001.M1P1.host 10 2:99\n")
        #expect(version2 == ["1300000001.M1P1.host": "UID2-99"])
        #expect(parsedCourier("/4 3 99\n1300000001.M1P1.host 10 2:99:0\n").isEmpty)
        #expect(parsedCourier("1300000001.M1P1.host 2\n").isEmpty, "the pre-0.43 format is not read")
    }

    @Test("inherited ids are kept; ours never collide with them; duplicates and invalid ones fall back")
    func mapper() {
        let names = ["b.2.host", "a.1.host", "c.3.host", "UID9-1", "e.5.host"].map { ArraySlice($0.utf8) }
        let inherited: [ArraySlice<UInt8>: String] = [
            ArraySlice("a.1.host".utf8): "UID9-1",  // the same as a file name of ours
            ArraySlice("b.2.host".utf8): "UID9-1",  // a duplicate: a.1.host (first by name) keeps it
            ArraySlice("c.3.host".utf8): "has space",  // not a valid unique-id
        ]
        let ids = UniqueIDMapper.uniqueIDs(for: names, inherited: inherited)
        #expect(ids[1] == "UID9-1")
        #expect(ids[0] == "b.2.host")
        #expect(ids[2] == "c.3.host")
        #expect(ids[3] == UniqueIDMapper.digestID(Array("UID9-1".utf8), salt: 1), "ours moves, the inherited one stays")
        #expect(ids[4] == "e.5.host")
        #expect(Set(ids).count == ids.count)
        // The outcome does not depend on listing order.
        let reversed = UniqueIDMapper.uniqueIDs(for: names.reversed(), inherited: inherited)
        #expect(Array(reversed.reversed()) == ids)
    }

    @Test("a Maildir Dovecot served: listed messages keep Dovecot's UIDLs, new ones get ours")
    func maildirStore() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1276528487.M1P1.kurkku,S=4,W=5:2,S", "one\n", in: "cur")
            try fixture.put("1276528488.M1P2.kurkku,S=4,W=5", "two\n")
            try fixture.put("1700000000.M1P3.test.example,S=6,W=7", "three\n")
            try TestFiles.writeFile(
                fixture.root() + "/dovecot-uidlist",
                Array(
                    "3 V1700000000 N3 G00\n1 :1276528487.M1P1.kurkku,S=4,W=5\n2 :1276528488.M1P2.kurkku,S=4,W=5\n".utf8
                )
            )
            try TestFiles.writeFile(
                fixture.root() + "/courierpop3dsizelist",
                Array(
                    "/3 3 77\n1276528487.M1P1.kurkku,S=4,W=5 6 1:77:0\n1700000000.M1P3.test.example,S=6,W=7 7 9:77:0\n"
                        .utf8
                )
            )
            let maildrop = try await fixture.open()
            // Dovecot's file wins where both list a message; Courier's fills in the rest.
            #expect(maildrop.messages.map(\.uniqueID) == ["000000016553f100", "000000026553f100", "UID9-77"])
            #expect(maildrop.messages.map(\.arrival) == [1_276_528_487, 1_276_528_488, 1_700_000_000])
            #expect(maildrop.indices(arrivedAtOrBefore: 1_276_528_487) == [0])
            #expect(maildrop.indices(arrivedAtOrBefore: 1_699_999_999) == [0, 1])
            await maildrop.close()

            // Without the files, PostOffice's own: the base names.
            _ = try FileSystem.remove(FilePath(fixture.root() + "/dovecot-uidlist"))
            _ = try FileSystem.remove(FilePath(fixture.root() + "/courierpop3dsizelist"))
            let plain = try await fixture.open()
            #expect(plain.messages.map(\.uniqueID).first == "1276528487.M1P1.kurkku,S=4,W=5")
            await plain.close()
        }
    }
}
