"""Card renderings of a release: native JSON, Croissant JSON-LD, Hugging Face README,
PDF, and the usage-preference documents. Each is a pure function of the release's
stored state, so the same release always renders to the same bytes and signature."""
