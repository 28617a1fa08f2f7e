import Testing

@testable import POP3Server

#if canImport(Glibc)
    import Glibc
#endif

/// The connection limit follows the descriptor limit; the event loops follow the processors
/// the process may run on.
@Suite("Process resources")
struct ProcessResourcesTests {
    @Test func theDefaultLimitLeavesAReserveAndAnEighthForLockFiles() {
        #expect(ConnectionLimit.budget(fileDescriptors: 20_000) == 19_872)
        #expect(ConnectionLimit.connections(fileDescriptors: 20_000) == 17_388)
        #expect(ConnectionLimit.connections(fileDescriptors: 1_024) == 784)
        #expect(ConnectionLimit.connections(fileDescriptors: 100) == 2, "never below the smallest budget")
    }

    /// A configured limit is kept below what the descriptors allow: past it the process runs
    /// out of descriptors (test_faults.py shows the server staying up).
    @Test func aConfiguredLimitNeverExceedsWhatTheDescriptorsAllow() {
        #expect(ConnectionLimit.capped(nil, fileDescriptors: 20_000) == 17_388)
        #expect(ConnectionLimit.capped(22_000, fileDescriptors: 20_000) == 17_388)
        #expect(ConnectionLimit.capped(500, fileDescriptors: 20_000) == 500)
        #expect(ConnectionLimit.capped(1_000, fileDescriptors: 256) == 112)
    }

    #if os(Linux)
        @Test func raisingTheSoftLimitReachesTheHardLimit() throws {
            var limits = rlimit()
            try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0)
            let raised = try #require(ConnectionLimit.raiseFileDescriptorLimit())
            try #require(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits) == 0)
            #expect(limits.rlim_cur == limits.rlim_max)
            #expect(raised == min(Int(clamping: limits.rlim_cur), 1 << 20))
            #expect(ConnectionLimit.default == ConnectionLimit.connections(fileDescriptors: raised))
        }
    #endif

    @Test(
        arguments: [
            ("Name:\tpostoffice\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n", 1),
            ("Cpus_allowed:\tff\n", 8),
            ("Cpus_allowed:\t00000000,00000000,0000000f\n", 4),
            ("Cpus_allowed:\tffffffff,ffffffff\n", 64),
        ]
    )
    func allowedProcessorsAreCountedFromTheMask(status: String, count: Int) {
        #expect(ProcessorCount.allowedProcessors(status: status) == count)
    }

    @Test func aStatusWithoutAMaskIsNotGuessed() {
        #expect(ProcessorCount.allowedProcessors(status: "Name:\tx\n") == nil)
        #expect(ProcessorCount.allowedProcessors(status: "Cpus_allowed:\tzz\n") == nil)
    }
}
