import { base64Decode, base64DecodeExt, base64Encode } from './base64.js'
import { cmdLine } from './cmd-line.js'
import { removeComments, removeCommentsChar, replaceComments } from './comments.js'
import { cssDecode } from './css-decode.js'
import { length, md5, sha1 } from './digest.js'
import { escapeSeqDecode } from './escape-seq-decode.js'
import { hexDecode, hexEncode, sqlHexDecode } from './hex.js'
import { htmlEntityDecode } from './html-entity-decode.js'
import { jsDecode } from './js-decode.js'
import { lowercase } from './lowercase.js'
import { normalizePath, normalizePathWin } from './normalize-path.js'
import { removeNulls, replaceNulls } from './nulls.js'
import { uppercase } from './uppercase.js'
import { urlDecode } from './url-decode.js'
import { urlDecodeUni } from './url-decode-uni.js'
import { utf8toUnicode } from './utf8-to-unicode.js'
import { compressWhitespace, removeWhitespace, trim, trimLeft, trimRight } from './whitespace.js'

/** A transformation: a byte string in, a byte string out (one char a byte, as ModSecurity's are bytes). */
export type Transformation = (input: string) => string

/**
 * Every transformation (`t:`) the engine runs, by its SecLang name in lower case (names are
 * case-insensitive there; both spellings of `normalizePath` are accepted). `t:none` is not here:
 * it clears the rule's list instead (engine/compile.ts).
 */
export const TRANSFORMATIONS: ReadonlyMap<string, Transformation> = new Map<string, Transformation>([
  ['lowercase', lowercase],
  ['uppercase', uppercase],
  ['urldecode', urlDecode],
  ['urldecodeuni', urlDecodeUni],
  ['jsdecode', jsDecode],
  ['htmlentitydecode', htmlEntityDecode],
  ['cssdecode', cssDecode],
  ['cmdline', cmdLine],
  ['utf8tounicode', utf8toUnicode],
  ['removewhitespace', removeWhitespace],
  ['compresswhitespace', compressWhitespace],
  ['trim', trim],
  ['trimleft', trimLeft],
  ['trimright', trimRight],
  ['removenulls', removeNulls],
  ['replacenulls', replaceNulls],
  ['replacecomments', replaceComments],
  ['removecommentschar', removeCommentsChar],
  ['removecomments', removeComments],
  ['base64decode', base64Decode],
  ['base64decodeext', base64DecodeExt],
  ['base64encode', base64Encode],
  ['normalizepath', normalizePath],
  ['normalisepath', normalizePath],
  ['normalizepathwin', normalizePathWin],
  ['normalisepathwin', normalizePathWin],
  ['escapeseqdecode', escapeSeqDecode],
  ['hexencode', hexEncode],
  ['hexdecode', hexDecode],
  ['sqlhexdecode', sqlHexDecode],
  ['sha1', sha1],
  ['md5', md5],
  ['length', length],
])
