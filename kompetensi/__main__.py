"""`python -m kompetensi` = `kompetensi`."""

from kompetensi.cli import main

main()
