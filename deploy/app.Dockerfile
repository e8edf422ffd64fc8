# A function app's image, built FROM Ferry's: `docker build -f deploy/app.Dockerfile
# -t ferry-weather-app:0.1.0 path/to/app` (the folder `ferry init` wrote).
FROM ferry:0.1.0
USER root
COPY . /app
RUN if [ -f /app/requirements.txt ]; then pip install --no-cache-dir -r /app/requirements.txt; fi
USER ferry
