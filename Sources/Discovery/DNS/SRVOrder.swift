// The order in which SRV targets are tried (RFC 2782, "Usage rules").

extension [SRVRecord] {
    /// RFC 2782: a target of "." means the service is decidedly not available; the others are
    /// tried lowest priority first, and within one priority in a random order weighted by
    /// `weight` (records of weight 0 first in the running sum, so they are rarely chosen first).
    public func orderedForUse<G: RandomNumberGenerator>(using generator: inout G) -> [SRVRecord] {
        if self.count == 1 && self[0].target == "." { return [] }
        let usable = self.filter { $0.target != "." }
        var ordered: [SRVRecord] = []
        for priority in Set(usable.map(\.priority)).sorted() {
            var group = usable.filter { $0.priority == priority }.sorted { $0.weight < $1.weight }
            while !group.isEmpty {
                let total = group.reduce(0) { $0 + Int($1.weight) }
                let pick = Int.random(in: 0...total, using: &generator)
                var running = 0
                let index =
                    group.firstIndex { record in
                        running += Int(record.weight)
                        return running >= pick
                    } ?? 0
                ordered.append(group.remove(at: index))
            }
        }
        return ordered
    }

    /// ``orderedForUse(using:)`` with the system's random numbers.
    public func orderedForUse() -> [SRVRecord] {
        var generator = SystemRandomNumberGenerator()
        return self.orderedForUse(using: &generator)
    }
}
