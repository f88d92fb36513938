# EtherGate provider installer for QClaw, OpenClaw, Hermes, Qwen Code, opencode and aider (Windows PowerShell 5.1 and PowerShell 7).
#
#   & ([scriptblock]::Create((irm '__ETHERGATE_PUBLIC_URL__/console/skills/ethergate-provider/install.ps1'))) `
#     -Target qclaw -ApiKey '<your-ethergate-key>' -Locale en
#
# Options: -Target qclaw|openclaw|hermes|qwen-code|opencode|aider|claude-code|codex, -ApiKey KEY, -Locale en|zh, -Home DIR (the tool's real home
# when it is not the standard one), -Model ID (default model), -DryRun, -Help.
# Rerun it to rotate the key or refresh models: EtherGate's config is replaced, other config is
# preserved, and every changed file is backed up beside itself as <file>.bak-<timestamp>.
#
# This script makes no decisions of its own: it hands its options to the same Python program that
# install.sh runs (embedded below), so both platforms write exactly the same files. That program
# needs Python 3 with its standard library: Hermes always brings one (used when no other is found);
# for the other tools install Python 3 from python.org or the Microsoft Store first.
param(
    [string]$Target = '',
    [string]$ApiKey = '',
    [string]$Locale = 'en',
    # $HOME is a read-only automatic variable, so the parameter is named ToolHome and answers to -Home.
    [Alias('Home')][string]$ToolHome = '',
    [string]$Model = '',
    [switch]$DryRun,
    [switch]$Help
)

$EtherGatePublicUrl = __ETHERGATE_PUBLIC_URL_PS__

function Test-EtherGatePython([string[]]$Command) {
    if (-not $Command -or -not $Command[0]) { return $false }
    if (-not (Get-Command $Command[0] -ErrorAction SilentlyContinue)) { return $false }
    $rest = @($Command | Select-Object -Skip 1)
    # The Microsoft Store alias named python only opens the Store; a real interpreter prints ok.
    $answer = & $Command[0] @rest -c "import sys; print('ok' if sys.version_info >= (3, 8) else 'old')" 2>$null
    return ($LASTEXITCODE -eq 0 -and "$answer".Trim() -eq 'ok')
}

function Find-EtherGatePython {
    $candidates = @()
    if ($env:ETHERGATE_PYTHON) { $candidates += ,@($env:ETHERGATE_PYTHON) }
    if ($Target -eq 'hermes') {
        $hermesHome = if ($env:HERMES_HOME) { $env:HERMES_HOME } else { Join-Path $env:LOCALAPPDATA 'hermes' }
        $candidates += ,@((Join-Path $hermesHome 'hermes-agent\venv\Scripts\python.exe'))
    }
    $candidates += ,@('py', '-3')
    $candidates += ,@('python')
    $candidates += ,@('python3')
    foreach ($candidate in $candidates) {
        if (Test-EtherGatePython $candidate) { return ,$candidate }
    }
    return $null
}

$python = Find-EtherGatePython
if (-not $python) {
    if ($Locale -eq 'zh') {
        Write-Host '需要 Python 3（3.8 或更高版本）。请从 python.org 或 Microsoft Store 安装，然后重新运行此命令。未做任何修改。' -ForegroundColor Red
    } else {
        Write-Host 'Python 3 (3.8 or newer) is required. Install it from python.org or the Microsoft Store, then rerun this command. Nothing was changed.' -ForegroundColor Red
    }
    $global:LASTEXITCODE = 1
    return
}

$engine = @'
__ETHERGATE_ENGINE__
'@

$workdir = Join-Path ([System.IO.Path]::GetTempPath()) ('ethergate-provider-' + [guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory -Path $workdir | Out-Null
try {
    $enginePath = Join-Path $workdir 'ethergate_provider.py'
    [System.IO.File]::WriteAllText($enginePath, $engine, (New-Object System.Text.UTF8Encoding($false)))
    $arguments = @($enginePath, '--base-url', $EtherGatePublicUrl, '--shell', 'ps1', '--locale', $Locale)
    if ($Help) { $arguments += '--help' }
    if ($Target) { $arguments += @('--target', $Target) }
    if ($ApiKey) { $arguments += @('--api-key', $ApiKey) }
    if ($ToolHome) { $arguments += @('--home', $ToolHome) }
    if ($Model) { $arguments += @('--model', $Model) }
    if ($DryRun) { $arguments += '--dry-run' }
    $env:PYTHONIOENCODING = 'utf-8'
    $rest = @($python | Select-Object -Skip 1)
    & $python[0] @rest @arguments
    # No `exit`: run from a script block, it would close the user's PowerShell window.
    $global:LASTEXITCODE = $LASTEXITCODE
} finally {
    Remove-Item -Recurse -Force $workdir -ErrorAction SilentlyContinue
}
