// POP3Client module.
