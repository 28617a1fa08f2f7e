// Latency percentiles from a plain sorted array: exact, and small enough for every sample a run
// of seconds produces.

/// Nanosecond samples and their percentiles.
struct LatencySamples: Sendable {
    private(set) var nanoseconds: [UInt64] = []

    var count: Int { self.nanoseconds.count }

    mutating func record(_ value: UInt64) {
        self.nanoseconds.append(value)
    }

    mutating func merge(_ other: LatencySamples) {
        self.nanoseconds.append(contentsOf: other.nanoseconds)
    }

    /// Percentiles (0...100) in milliseconds by the nearest-rank method; `nil` without samples.
    func percentiles(_ ranks: [Double]) -> [Double]? {
        guard !self.nanoseconds.isEmpty else { return nil }
        let sorted = self.nanoseconds.sorted()
        return ranks.map { Double(sorted[Self.nearestRank($0, count: sorted.count)]) / 1e6 }
    }

    /// The zero-based index of percentile `rank` among `count` sorted samples: the smallest value
    /// with at least `rank` % of the samples at or below it.
    static func nearestRank(_ rank: Double, count: Int) -> Int {
        precondition(count > 0 && (0...100).contains(rank))
        let position = Int((rank / 100 * Double(count)).rounded(.up))
        return min(max(position, 1), count) - 1
    }
}

/// The median of a list of values (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
