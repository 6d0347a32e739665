from earwitness.pipelines.cli import run

run()
