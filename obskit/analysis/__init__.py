"""Analysis: pure functions over an investigation's frames (anomalies, log patterns, security
detections, root-cause ranking). Each module takes frames or an Investigation and returns frames."""
