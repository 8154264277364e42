"""The top of the house: the one `kompetensi` command (`kompetensi.cli`) and the `make run` demo flow
(`kompetensi.demo`), composed from the commands of `training` and `serving`. Nothing imports this package."""
