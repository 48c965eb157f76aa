version 1.0

# A scatter over names, a gather into one file output.

task greet {
  input {
    String name
  }
  command <<<
    echo "Hello, ~{name}!"
  >>>
  output {
    String greeting = read_string(stdout())
  }
}

task collect {
  input {
    Array[String] lines
  }
  command <<<
    cat ~{write_lines(lines)} > greetings.txt
  >>>
  output {
    File greetings = "greetings.txt"
    Int count = length(read_lines("greetings.txt"))
  }
}

workflow hello {
  input {
    Array[String] names = ["world", "Ironside", "WDL"]
  }
  scatter (name in names) {
    call greet { input: name = name }
  }
  call collect { input: lines = greet.greeting }
  output {
    Array[String] greetings = greet.greeting
    File greetings_file = collect.greetings
    Int count = collect.count
  }
}
