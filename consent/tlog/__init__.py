"""The consent transparency log's building blocks: RFC 9162 Merkle trees and proofs
(``merkle``; from stored node hashes, ``stored``), C2SP signed notes (``note``), tlog
checkpoints and cosignatures (``checkpoint``) and tlog-proof files (``proof``).

Pure Python, no database: the models, sealer and endpoints that use them are designed
in docs/design/transparency-log.md."""
