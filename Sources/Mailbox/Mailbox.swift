// Mailbox module.
