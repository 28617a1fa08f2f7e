// The descriptor budget that connections and maildrop lock files share.

import FileIO
import NIOConcurrencyHelpers
import Testing

@Suite("Descriptor budget")
struct DescriptorBudgetTests {
    @Test("lock files fit in what connections leave; a connection is never refused by the budget")
    func filesFitWhatConnectionsLeave() {
        let budget = DescriptorBudget(limit: 4)
        budget.connectionOpened()
        budget.connectionOpened()
        #expect(budget.takeFile())
        #expect(budget.hasRoomForFile)
        #expect(budget.takeFile())
        #expect(!budget.hasRoomForFile)
        #expect(budget.shortfall == 1)
        #expect(!budget.takeFile(), "two sockets and two lock files fill four descriptors")
        #expect(budget.counts == (connections: 2, files: 2))
        budget.returnFile()
        #expect(budget.takeFile())
        budget.connectionClosed()
        #expect(budget.takeFile())
        #expect(budget.counts == (connections: 1, files: 3))
    }

    @Test("a connection past the budget asks for as many descriptors back as it is over")
    func overdraftAsksForDescriptorsBack() {
        let budget = DescriptorBudget(limit: 3)
        let asked = NIOLockedValueBox<[Int]>([])
        budget.onOverdraft { count in asked.withLockedValue { $0.append(count) } }
        #expect(budget.takeFile())
        #expect(budget.takeFile())
        budget.connectionOpened()
        #expect(asked.withLockedValue { $0 } == [], "within the budget")
        budget.connectionOpened()
        budget.connectionOpened()
        #expect(asked.withLockedValue { $0 } == [1, 2])
        #expect(budget.shortfall == 3, "two over, and one more file wants one")
    }

    @Test("without a limit nothing is refused")
    func unlimited() {
        let budget = DescriptorBudget(limit: nil)
        for _ in 0..<1000 {
            budget.connectionOpened()
            #expect(budget.takeFile())
        }
        #expect(budget.hasRoomForFile)
        #expect(budget.counts == (connections: 1000, files: 1000))
    }
}
