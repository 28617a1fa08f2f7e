// crypt(3) through libxcrypt's thread-safe crypt_r and crypt_gensalt_rn.
internal import CCrypt
@_spi(POP3Internal) internal import SASL

/// The system's crypt(3) (libxcrypt): DES, MD5-crypt, SHA-crypt, bcrypt, yescrypt.
enum SystemCrypt {
    /// The hash of `password` with the method and salt in `setting` (a full hash works too),
    /// or nil when libxcrypt refuses (it returns a string starting with `*` then).
    static func hash(password: [UInt8], setting: String) -> String? {
        // A C string cannot carry NUL, and truncating at one would accept a different password.
        guard !password.contains(0), !setting.utf8.contains(0) else { return nil }
        // struct crypt_data is about 32 KiB: never on a small stack. libxcrypt wants it zeroed
        // before first use; we zero it again afterwards because it holds password-derived state.
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        let raw = UnsafeMutableRawPointer(data)
        let size = MemoryLayout<crypt_data>.size
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            data.deallocate()
        }
        let result: String? = (password + [0]).withUnsafeBufferPointer { phrase in
            phrase.withMemoryRebound(to: CChar.self) { phrase in
                guard let output = crypt_r(phrase.baseAddress, setting, data) else { return nil }
                return String(cString: output)
            }
        }
        guard let result, !result.isEmpty, !result.hasPrefix("*") else { return nil }
        return result
    }

    /// True when `password` hashes to `storedHash`; compared in constant time.
    static func verify(password: [UInt8], storedHash: String) -> Bool {
        guard let computed = hash(password: password, setting: storedHash) else { return false }
        return ConstantTime.equals(Array(computed.utf8), Array(storedHash.utf8))
    }

    /// A new random setting for `prefix` (`$y$`, `$6$`, ...), with libxcrypt's default cost when
    /// `count` is 0. libxcrypt takes the random bytes from the OS itself.
    static func makeSetting(prefix: String, count: UInt = 0) -> String? {
        var output = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let size = Int32(output.count)
        let made = output.withUnsafeMutableBufferPointer { buffer in
            crypt_gensalt_rn(prefix, count, nil, 0, buffer.baseAddress, size)
        }
        guard made != nil else { return nil }
        let setting = String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !setting.isEmpty, !setting.hasPrefix("*") else { return nil }
        return setting
    }
}
