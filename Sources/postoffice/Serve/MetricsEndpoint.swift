// `serve --metrics HOST:PORT`: the Prometheus text endpoint on its own listener (issue 9, part 4).
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServerMetrics
import ServiceLifecycle

/// A swift-metrics factory that registers into a Prometheus registry with each metric's help
/// text from ``MetricNames`` (the stock factory registers none, and `promtool check metrics`
/// asks for it) and its histogram buckets.
struct DescribedPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    /// The name with its help text (none for a metric that is not ours).
    private func describe(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: label,
            unitName: "",
            helpText: MetricNames.descriptor(named: label)?.help ?? ""
        )
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: describe(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: describe(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: describe(label), labels: dimensions) }
        return registry.makeValueHistogram(
            descriptor: describe(label),
            labels: dimensions,
            buckets: [0.001, 0.01, 0.1, 1, 10, 100, 1000]
        )
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: describe(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        var buckets: [Duration] = [.milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10)]
        if case .durationHistogram(let described) = MetricNames.descriptor(named: label)?.kind { buckets = described }
        return registry.makeDurationHistogram(descriptor: describe(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}

/// Serves `GET /metrics` (Prometheus text format 0.0.4) from `registry` on its own listener;
/// anything else is 404 (405 for other methods). One request per connection is enough for a
/// scraper, so each answer closes its connection.
final class MetricsEndpoint: Service, Sendable {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    private let bound = NIOLockedValueBox<(any Channel)?>(nil)

    init(host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.logger = logger
    }

    /// Binds the listener (not accepting until ``run()``); returns the bound address.
    func bind() async throws -> SocketAddress? {
        let registry = self.registry
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(registry: registry))
                }
            }
            .bind(host: host, port: port)
            .get()
        bound.withLockedValue { $0 = channel }
        return channel.localAddress
    }

    func run() async throws {
        let existing = bound.withLockedValue { $0 }
        let channel: any Channel
        if let existing {
            channel = existing
        } else {
            _ = try await bind()
            channel = bound.withLockedValue { $0! }  // safe: bind() just set it
        }
        try await channel.setOption(.autoRead, value: true).get()
        logger.info("metrics on http://\(channel.localAddress.map { "\($0)" } ?? "?")/metrics")
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// Answers one HTTP request.
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var status = HTTPResponseStatus.ok
        var body = context.channel.allocator.buffer(capacity: 4096)
        var contentType = "text/plain; version=0.0.4; charset=utf-8"
        if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body.writeString("only GET\n")
            contentType = "text/plain; charset=utf-8"
        } else if path != "/metrics" {
            status = .notFound
            body.writeString("the metrics are at /metrics\n")
            contentType = "text/plain; charset=utf-8"
        } else {
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            body.writeBytes(bytes)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil
        )
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
