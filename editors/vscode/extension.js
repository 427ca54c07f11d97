// Starts `patc lsp` (configurable: patternlang.server.command) for .pat files.
// Highlighting works without it: it comes from syntaxes/pat.tmLanguage.json alone.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const cmd = vscode.workspace.getConfiguration("patternlang").get("server.command", ["patc", "lsp"]);
  if (!cmd || cmd.length === 0) {
    return;
  }
  const server = { command: cmd[0], args: cmd.slice(1) };
  client = new LanguageClient("patternlang", "patternlang language server", server, {
    documentSelector: [{ scheme: "file", language: "pat" }],
  });
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
