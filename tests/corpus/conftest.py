"""The corpus directories hold other projects' flows and their tests' files: never collect them."""

collect_ignore_glob = ["netflix_metaflow/*", "outerbounds_*/*", "*/*/*"]
