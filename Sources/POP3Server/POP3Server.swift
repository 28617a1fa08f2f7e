// POP3Server module.
