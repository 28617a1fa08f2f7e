// Fetch module.
