// Shell completion for bash, zsh and fish, as `qm completion SHELL` prints it: the commands
// and each command's flags are written into the script; service names come from the
// manifest at the moment of completion, by `qm completion --services`, so they follow the
// manifest of the folder the person is in (or QM_MANIFEST).

export interface CompletionCommand {
  /** The words of the command: ['certs', 'init']. */
  words: string[]
  flags: string[]
}

export type Shell = 'bash' | 'zsh' | 'fish'

export function completionScript(shell: Shell, bin: string, commands: readonly CompletionCommand[]): string {
  const firstWords = [...new Set(commands.map((c) => c.words[0]!))].sort()
  const flagsFor = (first: string) => [...new Set(commands.filter((c) => c.words[0] === first).flatMap((c) => c.flags))].sort()
  const subWords = (first: string) => [...new Set(commands.filter((c) => c.words[0] === first && c.words.length > 1).map((c) => c.words[1]!))].sort()
  const topics = firstWords.filter((word) => subWords(word).length > 0)
  const fn = `_${bin.replace(/\W/g, '_')}_complete`
  switch (shell) {
    case 'bash':
      return [
        `# ${bin} completion for bash: eval "$(${bin} completion bash)" in ~/.bashrc`,
        `${fn}() {`,
        '  local cur=${COMP_WORDS[COMP_CWORD]}',
        '  if [ "$COMP_CWORD" -eq 1 ]; then',
        `    COMPREPLY=($(compgen -W "${firstWords.join(' ')}" -- "$cur"))`,
        '    return',
        '  fi',
        '  if [ "$COMP_CWORD" -eq 2 ]; then',
        '    case "${COMP_WORDS[1]}" in',
        ...topics.map((word) => `      ${word}) COMPREPLY=($(compgen -W "${subWords(word).join(' ')}" -- "$cur")); return ;;`),
        '    esac',
        '  fi',
        '  local flags=""',
        '  case "${COMP_WORDS[1]}" in',
        ...firstWords.map((word) => `    ${word}) flags="${flagsFor(word).join(' ')}" ;;`),
        '  esac',
        '  case "$cur" in',
        '    -*) COMPREPLY=($(compgen -W "$flags" -- "$cur")) ;;',
        `    *) COMPREPLY=($(compgen -W "$(${bin} completion --services 2>/dev/null)" -- "$cur")) ;;`,
        '  esac',
        '}',
        `complete -F ${fn} ${bin}`,
        '',
      ].join('\n')
    case 'zsh':
      return [
        `#compdef ${bin}`,
        `# ${bin} completion for zsh: eval "$(${bin} completion zsh)" in ~/.zshrc, after compinit`,
        `${fn}() {`,
        '  if (( CURRENT == 2 )); then',
        `    compadd -- ${firstWords.join(' ')}`,
        '    return',
        '  fi',
        '  if (( CURRENT == 3 )); then',
        '    case "${words[2]}" in',
        ...topics.map((word) => `      ${word}) compadd -- ${subWords(word).join(' ')}; return ;;`),
        '    esac',
        '  fi',
        '  local -a flags',
        '  case "${words[2]}" in',
        ...firstWords.map((word) => `    ${word}) flags=(${flagsFor(word).join(' ')}) ;;`),
        '  esac',
        '  if [[ "${words[CURRENT]}" == -* ]]; then',
        '    compadd -- $flags',
        '  else',
        `    compadd -- \${(f)"$(${bin} completion --services 2>/dev/null)"}`,
        '  fi',
        '}',
        `compdef ${fn} ${bin}`,
        '',
      ].join('\n')
    case 'fish':
      return [
        `# ${bin} completion for fish: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
        `complete -c ${bin} -f`,
        `complete -c ${bin} -n __fish_use_subcommand -a '${firstWords.join(' ')}'`,
        ...topics.map((word) => `complete -c ${bin} -n '__fish_seen_subcommand_from ${word}' -a '${subWords(word).join(' ')}'`),
        ...firstWords.flatMap((word) =>
          flagsFor(word)
            .filter((flag) => flag.startsWith('--'))
            .map((flag) => `complete -c ${bin} -n '__fish_seen_subcommand_from ${word}' -l ${flag.slice(2)}`),
        ),
        `complete -c ${bin} -n 'not __fish_use_subcommand' -a '(${bin} completion --services 2>/dev/null)'`,
        '',
      ].join('\n')
  }
}
