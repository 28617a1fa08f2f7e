// Creating the directories a run writes into (the XDG defaults do not exist on a fresh system).
import FileIO
import SystemPackage

/// Creates `path` and its missing parents, as `mkdir -p` does; new directories are private
/// (they hold mail and state). Existing ones are left as they are.
func makeDirectories(_ path: String) throws {
    try localWrite { try FileSystem.createDirectories(FilePath(path)) }
}
