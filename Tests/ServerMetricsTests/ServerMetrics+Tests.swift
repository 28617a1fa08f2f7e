import MetricsTestKit
import ServerMetrics
import Testing

@Suite("ServerMetrics")
struct ServerMetricsTests {
    @Test func namesAreUniqueAndFollowPrometheusConventions() {
        let names = MetricNames.all.map(\.name)
        #expect(Set(names).count == names.count)
        for descriptor in MetricNames.all {
            #expect(descriptor.name.hasPrefix("postoffice_"))
            #expect(descriptor.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" })
            #expect(!descriptor.help.isEmpty)
            switch descriptor.kind {
            case .counter: #expect(descriptor.name.hasSuffix("_total"), "\(descriptor.name)")
            case .gauge: #expect(!descriptor.name.hasSuffix("_total"))
            case .durationHistogram(let buckets):
                #expect(descriptor.name.hasSuffix("_seconds"))
                #expect(buckets == buckets.sorted() && !buckets.isEmpty)
            }
            #expect(MetricNames.descriptor(named: descriptor.name) == descriptor)
        }
    }

    @Test func everySeriesExistsAtZeroBeforeItsFirstEvent() throws {
        let metrics = TestMetrics()
        _ = ServerMetrics(factory: metrics)
        let logins = MetricNames.logins
        #expect(metrics.counters(label: logins.name).count == 5 * ServerMetrics.mechanisms.count)
        #expect(
            try metrics.expectCounter(logins.name, [("result", "success"), ("mechanism", "PLAIN")]).totalValue == 0
        )
        #expect(metrics.counters(label: MetricNames.bans.name).count == 2)
        #expect(metrics.counters(label: MetricNames.lmtpDeliveries.name).count == 4)
    }

    @Test func mechanismsOutsideTheKnownSetAreOther() throws {
        let metrics = TestMetrics()
        let server = ServerMetrics(factory: metrics)
        server.login(result: .invalidCredentials, mechanism: "X-\(String(repeating: "A", count: 40))", duration: nil)
        server.login(result: .success, mechanism: "SCRAM-SHA-256", duration: .milliseconds(3))
        let name = MetricNames.logins.name
        #expect(
            try metrics.expectCounter(name, [("result", "invalid_credentials"), ("mechanism", "other")]).totalValue == 1
        )
        #expect(
            try metrics.expectCounter(name, [("result", "success"), ("mechanism", "SCRAM-SHA-256")]).totalValue == 1
        )
        let timer = try metrics.expectTimer(MetricNames.loginDuration.name, [("result", "success")])
        #expect(timer.values == [3_000_000])
        #expect(metrics.counters(label: name).count == 5 * ServerMetrics.mechanisms.count, "no new series")
    }

    @Test func banAndDeliveryHooksCount() throws {
        let metrics = TestMetrics()
        let server = ServerMetrics(factory: metrics)
        server.banned(.address)
        server.banned(.address)
        server.banned(.user)
        server.lmtpDelivery(.stored)
        server.lmtpDelivery(.storageFull)
        server.sessionOpened(listener: .pop3s)
        server.sessionOpened(listener: .pop3)
        server.sessionClosed()
        #expect(try metrics.expectCounter(MetricNames.bans.name, [("kind", "address")]).totalValue == 2)
        #expect(try metrics.expectCounter(MetricNames.bans.name, [("kind", "user")]).totalValue == 1)
        let deliveries = MetricNames.lmtpDeliveries.name
        #expect(try metrics.expectCounter(deliveries, [("result", "stored")]).totalValue == 1)
        #expect(try metrics.expectCounter(deliveries, [("result", "storage_full")]).totalValue == 1)
        #expect(try metrics.expectMeter(MetricNames.sessionsOpen.name).lastValue == 1)
        #expect(try metrics.expectCounter(MetricNames.sessions.name, [("listener", "pop3s")]).totalValue == 1)
    }
}
