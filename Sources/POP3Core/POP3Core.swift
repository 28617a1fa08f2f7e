// POP3Core module.
