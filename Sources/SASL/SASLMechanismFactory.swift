// Entry points: mechanisms by name, for the POP3 server (AUTH, RFC 5034) and client.

/// The server mechanisms this module implements, in order of preference for CAPA `SASL`.
public let supportedSASLServerMechanisms: [SASLMechanismName] = [.scramSHA256, .plain, .login]

/// A fresh server-side state machine for `name`, or nil when we do not implement it
/// (the server then answers `-ERR`, RFC 5034 §4).
public func makeSASLServerMechanism(_ name: SASLMechanismName) -> (any SASLServerMechanism)? {
    switch name {
    case .plain: PlainServerMechanism()
    case .login: LoginServerMechanism()
    case .scramSHA256: SCRAMSHA256ServerMechanism()
    default: nil
    }
}

/// A fresh client-side state machine for `name`, or nil when we do not implement it.
///
/// `secret` is the password for PLAIN, LOGIN and SCRAM-SHA-256, and the OAuth 2.0 access
/// token for XOAUTH2 and OAUTHBEARER. OAUTHBEARER made here sends no `host`/`port`; use
/// ``OAuthBearerClientMechanism/init(user:token:host:port:)`` to include them.
/// `scramMaximumIterations` caps the work a server may ask of SCRAM-SHA-256.
public func makeSASLClientMechanism(
    _ name: SASLMechanismName,
    user: String,
    secret: String,
    scramMaximumIterations: Int = SCRAMSHA256ClientMechanism.defaultMaximumIterations
) -> (any SASLClientMechanism)? {
    switch name {
    case .plain: PlainClientMechanism(user: user, password: secret)
    case .login: LoginClientMechanism(user: user, password: secret)
    case .scramSHA256:
        SCRAMSHA256ClientMechanism(user: user, password: secret, maximumIterations: scramMaximumIterations)
    case .xoauth2: XOAUTH2ClientMechanism(user: user, token: secret)
    case .oauthBearer: OAuthBearerClientMechanism(user: user, token: secret)
    default: nil
    }
}
