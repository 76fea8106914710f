// better-sqlite3, loaded with require. It is a CommonJS package: an ESM import of it makes
// Node load its lexer of CommonJS exports and translate the module, and the daemon keeps
// both for good. A process with the daemon's V8 flags that loads only this package holds
// 0.5 MiB less loaded this way (42.15 against 42.65 MiB resident).
import {createRequire} from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
