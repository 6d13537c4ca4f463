"""After Metaflow's tutorials 02-statistics and 03-playlist-redux ran (the playlist flow reads the
statistics through the client, inside a step): their artifacts, printed the same way on either
side. The bonus pick is random and is only checked to come from the data."""
from metaflow import Flow

stats = Flow("MovieStatsFlow").latest_successful_run
genre_stats = stats.data.genre_stats
print("genres", len(genre_stats), sorted(genre_stats)[:5])
for genre in sorted(genre_stats):
    entry = genre_stats[genre]
    print(genre, entry["quartiles"], {k: len(v) for k, v in sorted(entry["dataframe"].items())})
print("steps", sorted(step.id for step in stats), len(list(stats["compute_statistics"])))
playlist = Flow("PlayListFlow").latest_successful_run
print("playlist (shuffled by the flow)", sorted(playlist.data.playlist))
title, genres = playlist.data.bonus
print("bonus is a movie", title in {t for e in genre_stats.values() for t in e["dataframe"]["movie_title"]})
print("parameters", playlist.data.genre, playlist.data.recommendations)
