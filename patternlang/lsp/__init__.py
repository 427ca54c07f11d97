"""The `.pat` language server (``patc lsp``): :mod:`.analysis` answers questions about a document
(no LSP types), :mod:`.server` speaks LSP over stdio with pygls (the optional ``lsp`` extra)."""
