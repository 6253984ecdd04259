-- Driven by tests/lsp/nvim.rs: Neovim, with editors/vim on its runtime
-- path, opens LeNet, and records what the server tells it. The Rust test
-- judges the record (CNNSCRIPT_OUT, JSON).
local out = {}
local function finish()
  vim.fn.writefile({ vim.fn.json_encode(out) }, vim.env.CNNSCRIPT_OUT)
  vim.cmd('qall!')
end

local ok, err = pcall(function()
  local published = 0
  local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
  vim.lsp.handlers['textDocument/publishDiagnostics'] = function(e, result, ctx, config)
    published = published + 1
    return publish(e, result, ctx, config)
  end

  local cnnscript = require('cnnscript')
  cnnscript.setup({ cmd = { vim.env.CNNSCRIPT_BIN, 'lsp' } })
  vim.cmd('edit ' .. vim.fn.fnameescape(vim.env.CNNSCRIPT_FILE))
  local buf = vim.api.nvim_get_current_buf()
  out.filetype = vim.bo[buf].filetype

  local client
  vim.wait(10000, function()
    client = cnnscript.clients(buf)[1]
    return client ~= nil and client.initialized and published > 0
  end, 20)
  out.attached = client ~= nil
  out.first_diagnostics = #vim.diagnostic.get(buf)

  local function request(method, params)
    params.textDocument = { uri = vim.uri_from_bufnr(buf) }
    local answers = vim.lsp.buf_request_sync(buf, method, params, 10000) or {}
    for _, a in pairs(answers) do
      return a.result
    end
  end

  -- inlay hints, as the server sends them and as the plugin draws them
  local hints = request('textDocument/inlayHint', {
    range = { start = { line = 0, character = 0 }, ['end'] = { line = 99, character = 0 } },
  }) or {}
  out.hints = {}
  for _, h in ipairs(hints) do
    table.insert(out.hints, { line = h.position.line, label = h.label })
  end
  local shapes = vim.api.nvim_get_namespaces()['cnnscript_shapes']
  vim.wait(3000, function()
    return #vim.api.nvim_buf_get_extmarks(buf, shapes, 0, -1, {}) > 0
  end, 20)
  out.drawn = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, shapes, 0, -1, { details = true })) do
    out.drawn[tostring(m[2])] = m[4].virt_text[1][1]
  end
  out.native_hints = vim.lsp.inlay_hint ~= nil

  -- hover on the first conv
  local conv_line = vim.fn.search('c1: conv') - 1
  out.conv_line = conv_line
  local hover = request('textDocument/hover', { position = { line = conv_line, character = 8 } })
  out.hover = hover and hover.contents.value or ''

  -- break the second conv: its diagnostic arrives
  local second = vim.fn.search('conv(out=16') - 1
  local original = vim.api.nvim_buf_get_lines(buf, second, second + 1, false)[1]
  vim.api.nvim_buf_set_lines(buf, second, second + 1, false, { (original:gsub('conv%(', 'conv(in=7, ')) })
  vim.wait(10000, function()
    return #vim.diagnostic.get(buf) > 0
  end, 20)
  out.broken_line = second
  out.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(out.diagnostics, { line = d.lnum, message = d.message, severity = d.severity })
  end
  vim.api.nvim_buf_set_lines(buf, second, second + 1, false, { original })
  vim.wait(10000, function()
    return #vim.diagnostic.get(buf) == 0
  end, 20)
  out.fixed_diagnostics = #vim.diagnostic.get(buf)

  -- complete `maxp` on a new last line, and apply the chosen item
  local last = vim.api.nvim_buf_line_count(buf)
  vim.api.nvim_buf_set_lines(buf, last, last, false, { 'shape 8x8 -> maxp' })
  local items = request('textDocument/completion', { position = { line = last, character = 17 } }) or {}
  items = items.items or items
  out.completions = {}
  for _, item in ipairs(items) do
    table.insert(out.completions, item.label)
  end
  if items[1] and items[1].textEdit then
    vim.lsp.util.apply_text_edits({ items[1].textEdit }, buf, 'utf-16')
  end
  out.completed = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1]
  vim.api.nvim_buf_set_lines(buf, last, last + 1, false, {})

  -- a messy line, then format the buffer through the server
  vim.api.nvim_buf_set_lines(buf, last, last, false, { 'model  t(x:1x1x8x8)=conv( out=2,k=3 )->relu' })
  out.messy = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
  if vim.lsp.buf.format then
    vim.lsp.buf.format({ bufnr = buf, timeout_ms = 10000 })
  else
    vim.lsp.buf.formatting_sync(nil, 10000)
  end
  out.formatted = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
end)
out.ok = ok
out.error = ok and '' or tostring(err)
finish()
