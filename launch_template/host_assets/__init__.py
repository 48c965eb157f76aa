"""Files shipped to every Batch host as one zipped S3 asset (see ``launch_template.user_data``)."""
