// Creating the directories a run writes into (the XDG defaults do not exist on a fresh system).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Creates `path` and its missing parents, as `mkdir -p` does; new directories get `mode`
/// (private by default: they hold mail and state). Existing ones are left as they are.
func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, mode) != 0 && errno != EEXIST {
            throw FetchFailure(kind: .localWrite, message: "cannot create \(current): \(systemError())")
        }
    }
}
