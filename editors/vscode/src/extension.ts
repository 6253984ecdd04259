// Starts `cnnscript lsp` for .cnn files; everything else (diagnostics,
// shapes as inlay hints, hover, completion, formatting, quick fixes) comes
// from the server.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const command = vscode.workspace.getConfiguration("cnnscript").get<string>("server.path", "cnnscript");
  const server: ServerOptions = { command, args: ["lsp"] };
  const options: LanguageClientOptions = {
    documentSelector: [{ language: "cnnscript" }],
  };
  client = new LanguageClient("cnnscript", "cnnscript", server, options);
  context.subscriptions.push(client);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
