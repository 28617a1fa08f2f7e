// Hashes made once with real tools, committed so tests need neither at run time:
// `doveadm pw -s SCHEME -p PASSWORD` (Debian dovecot-core 2.3) and `mkpasswd -m METHOD PASSWORD`
// (Debian whois). The "mkpasswd-" ones are stored as {CRYPT} like Dovecot reads crypt(3) hashes.

import Testing

struct Fixture: CustomTestStringConvertible, Sendable {
    var tool: String
    var password: String
    var stored: String

    init(_ tool: String, password: String, stored: String) {
        self.tool = tool
        self.password = password
        self.stored = stored
    }

    var testDescription: String { "\(tool) / \(password)" }

    static let all: [Fixture] = [
        Fixture(
            "PLAIN",
            password: "correct horse",
            stored: #"{PLAIN}correct horse"#
        ),
        Fixture(
            "CLEARTEXT",
            password: "correct horse",
            stored: #"{CLEARTEXT}correct horse"#
        ),
        Fixture(
            "CRYPT",
            password: "correct horse",
            stored: #"{CRYPT}$2y$05$u8IGu6NBQ6tzHploEdzB1u8w9c2Nw1ADeEl/.w7ln8jeiIwIF6orC"#
        ),
        Fixture(
            "DES-CRYPT",
            password: "correct horse",
            stored: #"{DES-CRYPT}fGOmKG3nJS.IU"#
        ),
        Fixture(
            "MD5-CRYPT",
            password: "correct horse",
            stored: #"{MD5-CRYPT}$1$EVWghjvo$hsFpQGNm83ZFenmRwin0N/"#
        ),
        Fixture(
            "SHA256-CRYPT",
            password: "correct horse",
            stored: #"{SHA256-CRYPT}$5$4hTq3K2QD5FFOu4n$49FBeXc2MuLGDbnmQicizOhU2e0mc7ZhxlUUlQGnrq/"#
        ),
        Fixture(
            "SHA512-CRYPT",
            password: "correct horse",
            stored:
                #"{SHA512-CRYPT}$6$1sBbjJmjPHAvExPO$r8sgxo5QQ1qRhXrl5.zlhU6LBwqsTuRrcbnw74Muvt5PlR0BDB3h7FzUV/aLEIa1M9RNZGbOmuUre21x4zlKN1"#
        ),
        Fixture(
            "BLF-CRYPT",
            password: "correct horse",
            stored: #"{BLF-CRYPT}$2y$05$CHyExeN/JRgWZM1wa4b.COWj3akhSCgkuXfNSt0qA6pZ08jvsakIa"#
        ),
        Fixture(
            "SSHA256",
            password: "correct horse",
            stored: #"{SSHA256}I61pCEin2IxFrHJGws3PbhbzGhOiilmSVd9paoIf/M0PoGbp"#
        ),
        Fixture(
            "SSHA512",
            password: "correct horse",
            stored:
                #"{SSHA512}cHqgwKE0GOrNiqZmZ/aaH84cpFvYYXRcd+g8Y7rUCnk9piwLHh1pebr6aLeXE6ZX3ZgF2NxnK+L3t6QN/dKZT23UHIc="#
        ),
        Fixture(
            "SHA256",
            password: "correct horse",
            stored: #"{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE="#
        ),
        Fixture(
            "SHA512",
            password: "correct horse",
            stored: #"{SHA512}VraY3v7bWkNbY0r+MyC7rz/c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew=="#
        ),
        Fixture(
            "SCRAM-SHA-256",
            password: "correct horse",
            stored:
                #"{SCRAM-SHA-256}4096,20veCIM8BB/9q4zTyoSFCg==,TV+DC61wffoXeiiyGVc4ycsuJ8/LbjDKROj6fFckJns=,mI5oN8XrUYfeWeo/CVhp19mMT0BrPWnDw9gRrJS9fL0="#
        ),
        Fixture(
            "SHA256.HEX",
            password: "correct horse",
            stored: #"{SHA256.HEX}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"#
        ),
        Fixture(
            "SSHA256.HEX",
            password: "correct horse",
            stored: #"{SSHA256.HEX}316366f0ffa7c00b6db2a1efb9143ced08b3f860901a54c5390c5dab254eab9ea70df127"#
        ),
        Fixture(
            "SHA512.HEX",
            password: "correct horse",
            stored:
                #"{SHA512.HEX}56b698defedb5a435b634afe3320bbaf3fdcd920b6c503a446fc7b7a776b298d479d1ba6a8b617808eb0bf579ce9a95d668347bcab7149085ac93cb27995197b"#
        ),
        Fixture(
            "SSHA512.HEX",
            password: "correct horse",
            stored:
                #"{SSHA512.HEX}0a945ff42d74496a254ab5a81254edb681018ca41f8cb78ade795acbeb69b574327abd4e62f15c5c2e064e940b5934fc1925e1f8ed0fee9ff7ada0caf6f425760a8fba99"#
        ),
        Fixture(
            "mkpasswd-yescrypt",
            password: "correct horse",
            stored: #"{CRYPT}$y$j9T$sDYuVMuJ//k0bFs5ieJUe.$u3wAr/bWry5hI/Ev5crdO4cy85bJiqL8u6rV1SMNj1/"#
        ),
        Fixture(
            "mkpasswd-gost-yescrypt",
            password: "correct horse",
            stored: #"{CRYPT}$gy$j9T$InmK/7Bk9ud/1Q/Xtj6WF/$V.wQYTKsGYw7l1P7FRtgglS/o8e/qm6xe7NZLvc3.UB"#
        ),
        Fixture(
            "mkpasswd-sha-512",
            password: "correct horse",
            stored:
                #"{CRYPT}$6$hC99JDqMtusO0.3j$3VzaWCWQmlE4/dMQDH26rTSUcdg7TB5lCPi4sZZsBd/pOFwWWDHoanWRNzgOAN/mRGVrZZzOkvaYb5DtQW1Vo1"#
        ),
        Fixture(
            "mkpasswd-sha-256",
            password: "correct horse",
            stored: #"{CRYPT}$5$PaLJM.6gJ0Z8.MME$ieWaXbCd01PiFV2caVcXPYbU2LTAxfwDFQBu72EfYp4"#
        ),
        Fixture(
            "mkpasswd-md5crypt",
            password: "correct horse",
            stored: #"{CRYPT}$1$C7Z.9LvJ$JRUUzJbEB6AgYZUsxPEvM0"#
        ),
        Fixture(
            "mkpasswd-descrypt",
            password: "correct horse",
            stored: #"{CRYPT}2AitDDPVaTY4M"#
        ),
        Fixture(
            "mkpasswd-bcrypt",
            password: "correct horse",
            stored: #"{CRYPT}$2b$05$l.2AQazIDfHm/Q5BD66hB.KWvqwQd328flqsSHkQS65vhUChoVcCK"#
        ),
        Fixture(
            "PLAIN",
            password: "Grüße 2024!",
            stored: #"{PLAIN}Grüße 2024!"#
        ),
        Fixture(
            "CLEARTEXT",
            password: "Grüße 2024!",
            stored: #"{CLEARTEXT}Grüße 2024!"#
        ),
        Fixture(
            "CRYPT",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$2y$05$BlceJ8CiPFI8yWRUggZQ8eB4IjtLXW9oDVXMFjasCkhpC5ROWjZm6"#
        ),
        Fixture(
            "DES-CRYPT",
            password: "Grüße 2024!",
            stored: #"{DES-CRYPT}upPTi2wuvtoOU"#
        ),
        Fixture(
            "MD5-CRYPT",
            password: "Grüße 2024!",
            stored: #"{MD5-CRYPT}$1$GZmLMt5i$FwT0z6/akV/xqPk4N6Red0"#
        ),
        Fixture(
            "SHA256-CRYPT",
            password: "Grüße 2024!",
            stored: #"{SHA256-CRYPT}$5$7zatahil1mUbYA0C$vMvKkTFXmuzUyBlI/ycVIjvszPNyT.PTPkZXrwpBJ4D"#
        ),
        Fixture(
            "SHA512-CRYPT",
            password: "Grüße 2024!",
            stored:
                #"{SHA512-CRYPT}$6$QgEV4PkcVJqZBMRk$SS3SLyt.Ruk9HWt.T8G4it/oQac.Z33WS7/DlJDBr82JM.iwLs7FIs0Vacy5ujVJs/93NpK.9iHE/oAH7nWqD1"#
        ),
        Fixture(
            "BLF-CRYPT",
            password: "Grüße 2024!",
            stored: #"{BLF-CRYPT}$2y$05$qxV5LYk7ehHGp6QJ1k1LnOUsZtAwj44Kz9OQ73f4r7LLcZF9ZiW3m"#
        ),
        Fixture(
            "SSHA256",
            password: "Grüße 2024!",
            stored: #"{SSHA256}HOpBbVCqp7VeZAW+Ocvv7xxe3RfTC5m2RU6AAxxpFxGpXaOp"#
        ),
        Fixture(
            "SSHA512",
            password: "Grüße 2024!",
            stored:
                #"{SSHA512}5DMmrnjhMizhuWkeCEoCJuI9fVseusJAGjImCuef6h6LtTWCYOq7HBaQ1aedEhBIlHmAn+DoS3TtEjpyfgqp0UxhPhQ="#
        ),
        Fixture(
            "SHA256",
            password: "Grüße 2024!",
            stored: #"{SHA256}LD9FBBNVx2ctPeBNTh5km+JdoXdmFgRgcdKHWKH8RWY="#
        ),
        Fixture(
            "SHA512",
            password: "Grüße 2024!",
            stored: #"{SHA512}AMjwJIHLk4oL1a1G96kH3botY64LKgibN7m7RaHzGHHeNiXj6k2aX/gysjbP2rD5lbMIqwXFhoITldiMgFRbiw=="#
        ),
        Fixture(
            "SCRAM-SHA-256",
            password: "Grüße 2024!",
            stored:
                #"{SCRAM-SHA-256}4096,DOLahW9oYkznaFiXiz5TeQ==,xDiXYI6qjhpjIzDzUP9nxsysbgqIH6X/fJXkFtQi1uk=,5csX0ST8taesVArzi13LJDaAmlmxm/+PLsvC8YndOTc="#
        ),
        Fixture(
            "SHA256.HEX",
            password: "Grüße 2024!",
            stored: #"{SHA256.HEX}2c3f45041355c7672d3de04d4e1e649be25da1776616046071d28758a1fc4566"#
        ),
        Fixture(
            "SSHA256.HEX",
            password: "Grüße 2024!",
            stored: #"{SSHA256.HEX}c0a395ee3c640aceb13cf7b53283c2a40ed8e6d81524e2b5f46872a8ee14f4d03ae7a01f"#
        ),
        Fixture(
            "SHA512.HEX",
            password: "Grüße 2024!",
            stored:
                #"{SHA512.HEX}00c8f02481cb938a0bd5ad46f7a907ddba2d63ae0b2a089b37b9bb45a1f31871de3625e3ea4d9a5ff832b236cfdab0f995b308ab05c586821395d88c80545b8b"#
        ),
        Fixture(
            "SSHA512.HEX",
            password: "Grüße 2024!",
            stored:
                #"{SSHA512.HEX}3b0f7c68bf76c1f07a76651a7c520587f4f37a4bfddad96c91bc3e4ff4d4d7e5e96505338f80d230013940e092c2a0d35fbf45aa9be44b011ec6eb7a8a7da2b963cbe624"#
        ),
        Fixture(
            "mkpasswd-yescrypt",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$y$j9T$/JDkWAXsFx7kIdGPcZ6X70$26lsWxXhGVVBrR1FIHactKVLnLW8RXA0g4vUd5y0W45"#
        ),
        Fixture(
            "mkpasswd-gost-yescrypt",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$gy$j9T$/FEK1YGbIDu1XyWKZRlUR0$uwtNbwer6lQ1HLN9.oqMIIbmU8Z2O80hUT4MVxdI7QB"#
        ),
        Fixture(
            "mkpasswd-sha-512",
            password: "Grüße 2024!",
            stored:
                #"{CRYPT}$6$zO.S.TQKtY7naBgN$CEY8tJKXWXMVbhqQZmIs3EmRporNh28Zm9dw3twKht2jtQkOqKipTSN9dpBj39mnwCFtuKYjpPb/BAAwapM5F/"#
        ),
        Fixture(
            "mkpasswd-sha-256",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$5$rkLDFlFUuA15lTo5$b7sHcb1gALKOW0Fch2AsxKMjCmRWIF84u16mAut6.T1"#
        ),
        Fixture(
            "mkpasswd-md5crypt",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$1$NT5Rl0gc$SbtJrYSw0LT4.0IIZwByL0"#
        ),
        Fixture(
            "mkpasswd-descrypt",
            password: "Grüße 2024!",
            stored: #"{CRYPT}/nL1f1Ad/VV4I"#
        ),
        Fixture(
            "mkpasswd-bcrypt",
            password: "Grüße 2024!",
            stored: #"{CRYPT}$2b$05$zniJRlVGlwRhnAbu2DFNWeG6TJt7arduJPiWRVOU3soCz4uJO7SAS"#
        ),
        // Dovecot reads an unsuffixed SHA256 of hex length as hex (`doveadm pw -t` verifies it).
        Fixture(
            "SHA256 hex without suffix",
            password: "correct horse",
            stored: #"{SHA256}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"#
        ),
        // A password with no scheme is CRYPT (Dovecot's default_pass_scheme).
        Fixture(
            "bare yescrypt",
            password: "correct horse",
            stored: #"$y$j9T$sDYuVMuJ//k0bFs5ieJUe.$u3wAr/bWry5hI/Ev5crdO4cy85bJiqL8u6rV1SMNj1/"#
        ),
    ]
}
