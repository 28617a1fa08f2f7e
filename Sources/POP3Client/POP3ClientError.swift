// Errors the client reports, written for people.

/// Why a POP3 operation failed.
///
/// `message` is a sentence a person understands; it never contains a password, a token or
/// message content. Equality is by `kind`.
public struct POP3ClientError: Error, Sendable, CustomStringConvertible {
    /// The category of a failure.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case authentication, tls, certificate, network, timeout, protocolViolation, serverError, inUse, unsupported
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server refused the credentials.
        public static let authentication = Kind(.authentication)
        /// TLS could not be set up (other than the certificate being refused).
        public static let tls = Kind(.tls)
        /// The server's certificate was not accepted.
        public static let certificate = Kind(.certificate)
        /// The connection could not be made, or was lost.
        public static let network = Kind(.network)
        /// A phase did not finish in its time.
        public static let timeout = Kind(.timeout)
        /// The server broke the protocol.
        public static let protocolViolation = Kind(.protocolViolation)
        /// A `-ERR` to a transaction command.
        public static let serverError = Kind(.serverError)
        /// The maildrop is locked by another session (`[IN-USE]`, RFC 2449 §8.1.1).
        public static let inUse = Kind(.inUse)
        /// The server lacks something required (e.g. STLS).
        public static let unsupported = Kind(.unsupported)

        public var description: String { "\(self.base)" }
    }

    public var kind: Kind
    public var message: String
    /// The RFC 2449 §8 response code of the `-ERR` that caused this, e.g. `IN-USE`, `AUTH`, `SYS/TEMP`.
    public var responseCode: String?
    /// For ``Kind/certificate``: the certificate the server presented, when it could be read.
    public var certificate: POP3ServerCertificate?

    public init(
        kind: Kind,
        message: String,
        responseCode: String? = nil,
        certificate: POP3ServerCertificate? = nil
    ) {
        self.kind = kind
        self.message = message
        self.responseCode = responseCode
        self.certificate = certificate
    }

    public var description: String { self.message }
}

extension POP3ClientError: Equatable {
    public static func == (lhs: POP3ClientError, rhs: POP3ClientError) -> Bool { lhs.kind == rhs.kind }
}
