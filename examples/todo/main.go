// Command todo is being built; see the README.
package main

func main() {}
