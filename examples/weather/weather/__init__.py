"""Weather observation toolkit: station parsing, unit conversion, fetching and alerts."""

from weather.client import ObservationCache, fetch_observations, iter_observation_pages
from weather.parsing import parse_metar, parse_station_row
from weather.stations import Station, moving_average, threshold_alerts, validate_reading
from weather.units import celsius_to_fahrenheit, knots_to_mps

__all__ = [
    "ObservationCache",
    "Station",
    "celsius_to_fahrenheit",
    "fetch_observations",
    "iter_observation_pages",
    "knots_to_mps",
    "moving_average",
    "parse_metar",
    "parse_station_row",
    "threshold_alerts",
    "validate_reading",
]
